"""Deleting stored files nobody can fetch any more, and finished jobs past their retention.

* Generated images answered by URL (``gateway.images``) are reachable only through their signed
  URL, which nothing can renew: once it expired (``JOBS_RESULT_URL_SECONDS``, plus a grace margin)
  the file is dead weight.
* Finished jobs are kept ``JOBS_RETENTION_DAYS`` after they finished, then deleted with their stored
  input and result; their ids then answer ``404`` like any unknown job.

Each run deletes a bounded number of files and jobs, so it never holds a worker for long; the
outcome says when it stopped at that bound, and the task runs again soon.
"""

from __future__ import annotations

import contextlib
import random
from datetime import datetime, timedelta
from pathlib import Path

import structlog
from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import transaction
from django.utils import timezone

from gateway.images import STORAGE_DIR as IMAGES_DIR
from jobs.models import Job
from jobs.results import job_directory
from jobs.types import TERMINAL, PurgeOutcome

log = structlog.get_logger("mcp.jobs")

#: An image is deleted this long after its URL expired: clocks of the storage and the gateway may
#: differ, and a URL minted as the image was stored must keep working until its very last second.
URL_GRACE_SECONDS = 300
#: Most images one run deletes, and most it examines (a modification time may cost a request each).
MAX_IMAGES = 500
MAX_IMAGES_EXAMINED = 5000
#: Most jobs one run deletes (each with its few files).
MAX_JOBS = 100


def expired_images_purge(*, now: datetime | None = None, limit: int = MAX_IMAGES) -> tuple[int, bool]:
    """Delete generated images whose signed URLs have expired.

    :returns: how many were deleted, and whether the run stopped at ``limit`` with more perhaps left.
    """
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.JOBS_RESULT_URL_SECONDS + URL_GRACE_SECONDS)
    try:
        _, filenames = default_storage.listdir(IMAGES_DIR)
    except FileNotFoundError:
        return 0, False  # no image was ever stored
    except NotImplementedError:
        log.warning("purge_images_skipped", reason="the storage cannot list files")
        return 0, False
    # A random sample rather than the listing's head: past MAX_IMAGES_EXAMINED files, the head would be
    # the same fresh files on every run, and expired ones behind them would never be reached.
    sample = random.sample(filenames, min(len(filenames), MAX_IMAGES_EXAMINED))
    deleted = 0
    for filename in sample:
        if deleted >= limit:
            return deleted, True
        name = f"{IMAGES_DIR}/{filename}"
        try:
            modified = default_storage.get_modified_time(name)
        except NotImplementedError:
            log.warning("purge_images_skipped", reason="the storage does not tell when files were stored")
            return deleted, False
        # Deleted meanwhile by another run (S3 says so with a ClientError, not FileNotFoundError), or
        # unreadable: left for the next run.
        except Exception:  # noqa: BLE001, S112
            continue
        if modified < cutoff:
            default_storage.delete(name)
            deleted += 1
    return deleted, False


def _job_files_delete(job: Job) -> int:
    """Delete every file stored for ``job`` (what it names, and what a superseded attempt left beside it).

    :returns: how many files were deleted: a name whose file is already gone (a storage's
        ``delete`` says nothing either way) is not counted.
    """
    directory = job_directory(organization_id=job.organization_id, job_id=job.id.hex)
    try:
        _, filenames = default_storage.listdir(directory)
    except FileNotFoundError:
        filenames = []
    listed = {f"{directory}{filename}" for filename in filenames}
    # Files the listing just showed exist; a name the job holds outside it is looked up first.
    present = listed | {
        name for name in {job.input_name, job.result_name} - {""} - listed if default_storage.exists(name)
    }
    for name in present:
        default_storage.delete(name)
    _job_folder_remove(directory)
    return len(present)


def _job_folder_remove(directory: str) -> None:
    """On a local file system, remove the job's own folder once it is empty.

    The organisation's folder (``jobs/<org>/``) is kept: another of its jobs may be storing a file at
    this moment, and the storage creates the folder before it opens the file, so removing it in
    between would fail that job. Object stores have no folders (a prefix goes with its last object).
    """
    if not isinstance(default_storage, FileSystemStorage):
        return
    # Never created (a job that stored nothing), or not empty (a file that would not go): a folder
    # left behind is harmless, and the job is purged all the same.
    with contextlib.suppress(OSError):
        Path(default_storage.path(directory)).rmdir()


def expired_jobs_purge(*, now: datetime | None = None, limit: int = MAX_JOBS) -> tuple[int, int, bool]:
    """Delete finished jobs older than ``JOBS_RETENTION_DAYS``, with their stored files.

    Each job is locked and checked again before it goes, so a job retried meanwhile (an operator's
    "retry" puts it back in the queue) is kept. Files go before the row: should the row's deletion
    fail, the next run finds the job again, whereas a row deleted first would orphan its files.

    :returns: how many jobs and files were deleted, and whether the run stopped at ``limit``.
    """
    cutoff = (now or timezone.now()) - timedelta(days=settings.JOBS_RETENTION_DAYS)
    expired = Job.objects.filter(status__in=TERMINAL, finished_at__lt=cutoff)
    job_ids = list(expired.order_by("finished_at").values_list("id", flat=True)[:limit])
    jobs = files = 0
    for job_id in job_ids:
        with transaction.atomic():
            job = expired.select_for_update(skip_locked=True).filter(id=job_id).first()
            if job is None:
                continue  # retried, or being changed right now: the next run looks again
            files += _job_files_delete(job)
            job.delete()
        jobs += 1
    return jobs, files, len(job_ids) >= limit


def expired_files_purge(*, now: datetime | None = None) -> PurgeOutcome:
    """One bounded run of both purges (the periodic task and ``manage.py purge_expired_files``)."""
    images, images_left = expired_images_purge(now=now, limit=MAX_IMAGES)
    jobs, job_files, jobs_left = expired_jobs_purge(now=now, limit=MAX_JOBS)
    outcome = PurgeOutcome(images=images, jobs=jobs, job_files=job_files, more=images_left or jobs_left)
    if images or jobs:
        log.info("files_purged", images=images, jobs=jobs, job_files=job_files, more=outcome.more)
    return outcome
