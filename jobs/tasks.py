"""Queue tasks (django-tasks, database backend; run by ``manage.py db_worker``).

Each task takes ids, calls one function, and never raises for an expected failure: retries are
owned by the job and delivery services (with backoff and a maximum), not by the queue.
"""

from __future__ import annotations

import structlog
from django.conf import settings
from django_tasks import TaskContext, task

from jobs import queue, services
from jobs.delivery import webhook_delivery_attempt
from jobs.execution import job_execute

log = structlog.get_logger("mcp.jobs")


@task(takes_context=True)
async def job_run(context: TaskContext, job_id: str, attempt: int) -> str:
    """Run one attempt of a job (skipped when it was cancelled or superseded meanwhile)."""
    worker_id = (context.task_result.worker_ids or ["?"])[-1]
    return await job_execute(job_id=job_id, attempt=attempt, worker_id=worker_id)


@task(priority=queue.REAP_PRIORITY)
def job_reap() -> int:
    """Schedule the next sweep, then retry the jobs of dead workers.

    The next sweep is queued first: a worker killed during this one (or a sweep that fails) must not
    end the chain, or the jobs of dead workers would wait until someone submits a job and this
    run's entry looks abandoned.
    """
    # Sweep again within half a lease, so a lost job waits at most ~1.5 leases.
    queue.reaper_ensure(delay_seconds=settings.JOBS_LEASE_SECONDS / 2, from_reaper=True)
    reaped = services.job_reap()
    if reaped:
        log.warning("jobs_reaped", count=reaped)
    return reaped


@task(priority=queue.PURGE_PRIORITY)
def files_purge() -> int:
    """Schedule the next run, then delete expired generated images and finished jobs past their retention.

    The next run is queued first, as the reaper's is: a worker killed during this one must not end
    the chain. A run that failed (storage down) leaves it at the usual interval, not in a loop; a
    run that left expired files behind brings it forward.
    """
    queue.purger_ensure(delay_seconds=queue.PURGE_INTERVAL_SECONDS, from_purger=True)
    outcome = services.expired_files_purge()
    if outcome.more:
        queue.purger_hasten(delay_seconds=queue.PURGE_BACKLOG_SECONDS)
    return outcome.images + outcome.jobs


@task()
def webhook_deliver(delivery_id: str) -> str:
    """Make one attempt of a webhook delivery; the service schedules the next on failure."""
    return webhook_delivery_attempt(delivery_id=delivery_id).status
