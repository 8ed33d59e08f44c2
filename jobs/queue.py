"""Putting work on the task queue (django-tasks, database backend).

Services enqueue tasks by their dotted path so that ``tasks`` (which calls the services) and the
services (which enqueue the tasks) do not import each other. Enqueuing inside a transaction is
atomic with it: the queue is a table of the same database.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

JOB_RUN = "jobs.tasks.job_run"
JOB_REAP = "jobs.tasks.job_reap"
WEBHOOK_DELIVER = "jobs.tasks.webhook_deliver"
FILES_PURGE = "jobs.tasks.files_purge"
#: How often the reaper looks for jobs whose worker died (also bounded by the lease).
REAP_PRIORITY = 100
#: Ahead of jobs too, so a busy queue cannot starve it; each run's work is bounded (jobs.services.purge).
PURGE_PRIORITY = 100
#: The purge runs this often, or after PURGE_BACKLOG_SECONDS while a run left expired files behind.
PURGE_INTERVAL_SECONDS = 600
PURGE_BACKLOG_SECONDS = 5
#: A purge run's work is bounded (jobs.services.purge); one running longer than this died with its worker.
PURGE_PRESUMED_DEAD_AFTER_SECONDS = 300


def enqueue(task_path: str, *args: object, priority: int = 0, run_after: datetime | None = None) -> str:
    """Queue ``task_path(*args)``; returns the queue entry's id."""
    task = import_string(task_path).using(priority=max(-100, min(100, priority)), run_after=run_after)
    return str(task.enqueue(*args).id)


def _periodic_ensure(
    task_path: str, *, priority: int, delay_seconds: float, from_itself: bool, presumed_dead_after: float
) -> None:
    """Make sure a run of the self-rescheduling ``task_path`` is scheduled: one waiting entry, or one
    that started recently.

    A run that started more than ``presumed_dead_after`` seconds ago belonged to a worker killed
    before it could queue the next run: its entry is marked failed and a fresh run scheduled, or the
    chain would end there.

    :param from_itself: the task itself is asking (its own running entry does not count).
    """
    entries = DBTaskResult.objects.filter(task_path=task_path)
    if entries.filter(status=TaskResultStatus.READY).exists():
        return
    running = entries.filter(status=TaskResultStatus.RUNNING)
    dead_before = timezone.now() - timedelta(seconds=presumed_dead_after)
    if not from_itself and running.filter(started_at__gte=dead_before).exists():
        return
    for entry_id in running.filter(started_at__lt=dead_before).values_list("id", flat=True):
        queue_entry_abandon(str(entry_id))
    enqueue(task_path, priority=priority, run_after=timezone.now() + timedelta(seconds=delay_seconds))


def reaper_presumed_dead_after(lease_seconds: float) -> float:
    """How long a sweep may run before it is presumed to have died with its worker.

    A sweep takes well under a second; four leases (a minute at least) leave room for a slow database
    while a chain broken by a kill mid-sweep is mended within a few leases.
    """
    return max(60.0, 4 * lease_seconds)


def reaper_ensure(*, delay_seconds: float, from_reaper: bool = False) -> None:
    """Make sure a reaper run is scheduled (:func:`_periodic_ensure`), within ``delay_seconds``.

    :param from_reaper: the reaper itself is asking (its own running entry does not count).
    """
    _periodic_ensure(
        JOB_REAP,
        priority=REAP_PRIORITY,
        delay_seconds=delay_seconds,
        from_itself=from_reaper,
        presumed_dead_after=reaper_presumed_dead_after(settings.JOBS_LEASE_SECONDS),
    )


def purger_ensure(*, delay_seconds: float, from_purger: bool = False) -> None:
    """Make sure a run of the purge of expired files is scheduled (:func:`_periodic_ensure`).

    :param from_purger: the purge itself is asking (its own running entry does not count).
    """
    _periodic_ensure(
        FILES_PURGE,
        priority=PURGE_PRIORITY,
        delay_seconds=delay_seconds,
        from_itself=from_purger,
        presumed_dead_after=PURGE_PRESUMED_DEAD_AFTER_SECONDS,
    )


def purger_hasten(*, delay_seconds: float) -> None:
    """Bring the waiting purge run forward to within ``delay_seconds`` (a run left expired files behind)."""
    soon = timezone.now() + timedelta(seconds=delay_seconds)
    DBTaskResult.objects.filter(task_path=FILES_PURGE, status=TaskResultStatus.READY, run_after__gt=soon).update(
        run_after=soon
    )


def queue_entry_abandon(entry_id: str) -> None:
    """Mark the queue entry of a dead worker's run failed (it would otherwise show RUNNING forever)."""
    if entry_id:
        DBTaskResult.objects.filter(id=entry_id, status=TaskResultStatus.RUNNING).update(
            status=TaskResultStatus.FAILED,
            finished_at=timezone.now(),
            exception_class_path="jobs.queue.WorkerLost",
            traceback="The worker stopped reporting; its work was handed to another run.",
        )


def entries_claimed_before(entry_ids: list[str], moment: datetime) -> set[str]:
    """Which of these queue entries a worker claimed before ``moment`` and never finished."""
    claimed = DBTaskResult.objects.filter(
        id__in=[e for e in entry_ids if e], status=TaskResultStatus.RUNNING, started_at__lt=moment
    )
    return {str(entry_id) for entry_id in claimed.values_list("id", flat=True)}
