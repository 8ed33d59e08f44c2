"""Delete expired generated images and finished jobs past ``JOBS_RETENTION_DAYS`` now, instead of
waiting for the worker's periodic run (the same service, run until nothing expired is left).

With ``--schedule`` it only makes sure that periodic run is queued: the worker role runs it as it
starts, so a gateway whose clients never submit a job (the other thing that schedules it) still
purges the images it generates.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from jobs import queue
from jobs.services import expired_files_purge


class Command(BaseCommand):
    help = (
        "Delete generated images whose links expired and finished jobs (with their stored inputs and "
        "results) older than JOBS_RETENTION_DAYS; the job worker also does this every few minutes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--schedule",
            action="store_true",
            help="Only make sure the worker's periodic purge is queued, then exit (the worker role does this first).",
        )

    def handle(self, *args, schedule: bool = False, **options) -> None:
        if schedule:
            # As the purge itself does: a run shown as running may be the one of the worker this one
            # replaces, which died mid-run; a second run beside a live one is harmless.
            queue.purger_ensure(delay_seconds=queue.PURGE_BACKLOG_SECONDS, from_purger=True)
            self.stdout.write("The periodic purge of expired files is scheduled.")
            return
        images = jobs = job_files = 0
        while True:
            outcome = expired_files_purge()
            images, jobs, job_files = images + outcome.images, jobs + outcome.jobs, job_files + outcome.job_files
            if not outcome.more or not (outcome.images or outcome.jobs):
                break  # done, or stuck (nothing deleted): never loop for ever
        self.stdout.write(f"Deleted {images} expired image(s) and {jobs} job(s) with {job_files} stored file(s).")
