"""The life of a job: create → start → progress → succeed / retry / fail, cancel, reap.

Every transition after ``create`` is fenced by the attempt number the worker claimed: the row is
locked, and the change only happens while the job is still in the state and attempt the caller
believes. A worker that was presumed dead (its job handed to another attempt) therefore cannot
finish, fail or charge the job; whichever attempt finishes first wins, exactly once.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.crypto import encrypt
from jobs import queue
from jobs.events import apublish, publish_on_commit
from jobs.exceptions import IdempotencyConflict, JobNotCancellable
from jobs.models import Job
from jobs.results import result_name, store_bytes
from jobs.services.webhooks import webhook_deliveries_create
from jobs.types import TERMINAL, JobStatus

#: A job whose organisation is at its running cap waits this long before it is looked at again.
CAP_DEFER_SECONDS = 1.0
#: Retry delay after the n-th failed attempt: BACKOFF_BASE * 2**(n-1), at most BACKOFF_MAX.
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 300.0
_ADVISORY_NAMESPACE = 0x6A6F6273  # "jobs": keeps our advisory locks apart from anyone else's
#: Longest ``Idempotency-Key`` and upload ``Content-Type`` a job can store: the views refuse longer ones
#: with a 400 rather than letting the database refuse them with a 500.
MAX_IDEMPOTENCY_KEY_LENGTH: int = Job._meta.get_field("idempotency_key").max_length  # type: ignore[assignment]
MAX_INPUT_CONTENT_TYPE_LENGTH: int = Job._meta.get_field("input_content_type").max_length  # type: ignore[assignment]


def _request_hash(kind: str, model: str, params: dict[str, Any], input_bytes: bytes | None, webhook_url: str) -> str:
    canonical = json.dumps([kind, model, params, webhook_url], sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode())
    if input_bytes:
        digest.update(hashlib.sha256(input_bytes).digest())
    return digest.hexdigest()


def _existing(organization_id: int, idempotency_key: str, request_hash: str) -> Job | None:
    job = Job.objects.filter(organization_id=organization_id, idempotency_key=idempotency_key).first()
    if job is not None and job.request_hash != request_hash:
        raise IdempotencyConflict(param="Idempotency-Key")
    return job


def job_create(
    *,
    organization_id: int,
    key_id: int | None,
    user_id: int | None,
    kind: str,
    model: str,
    params: dict[str, Any],
    input_bytes: bytes | None = None,
    input_content_type: str = "",
    webhook_url: str = "",
    webhook_secret: str = "",
    idempotency_key: str | None = None,
    priority: int = 0,
    max_running: int | None = None,
    public_base_url: str = "",
    forward_headers: dict[str, str] | None = None,
) -> tuple[Job, bool]:
    """Record a job and queue its first attempt, atomically.

    :returns: the job and whether it was created (``False``: an earlier request with the same
        ``idempotency_key`` and the same body created it).
    :raises IdempotencyConflict: the key was used with a different request.
    """
    request_hash = _request_hash(kind, model, params, input_bytes, webhook_url)
    if idempotency_key and (job := _existing(organization_id, idempotency_key, request_hash)):
        return job, False
    job = Job(
        organization_id=organization_id,
        key_id=key_id,
        user_id=user_id,
        kind=kind,
        model=model,
        params=params,
        input_content_type=input_content_type,
        idempotency_key=idempotency_key or None,
        request_hash=request_hash,
        webhook_url=webhook_url,
        webhook_secret=encrypt(webhook_secret),
        priority=priority,
        max_attempts=settings.JOBS_MAX_ATTEMPTS,
        max_running=max_running or settings.JOBS_MAX_RUNNING_PER_ORG,
        public_base_url=public_base_url,
        forward_headers=forward_headers or {},
    )
    job.full_clean(exclude=["organization", "input_name", "task_id"])
    try:
        with transaction.atomic():
            if input_bytes:
                name = result_name(organization_id=organization_id, job_id=job.id.hex, content_type="", stem="input")
                job.input_name = store_bytes(name, input_bytes)
            job.task_id = queue.enqueue(queue.JOB_RUN, str(job.id), 1, priority=priority)
            job.save(force_insert=True)
            queue.reaper_ensure(delay_seconds=settings.JOBS_LEASE_SECONDS / 2)
            queue.purger_ensure(delay_seconds=queue.PURGE_INTERVAL_SECONDS)
            publish_on_commit(job, "job.queued")
    except IntegrityError:
        # Two requests with the same Idempotency-Key raced; the other one won.
        if idempotency_key and (existing := _existing(organization_id, idempotency_key, request_hash)):
            return existing, False
        raise
    return job, True


def _locked(job_id: str) -> Job | None:
    return Job.objects.select_for_update().filter(id=job_id).first()


def _lock_organization(organization_id: int) -> None:
    """Serialise start decisions per organisation (SQLite's IMMEDIATE transactions already are)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_ADVISORY_NAMESPACE, organization_id])


def job_start(*, job_id: str, attempt: int, worker_id: str) -> Job | None:
    """Claim a queued job for ``attempt``; ``None`` when it is not to run now (cancelled, stale, or deferred
    because its organisation already has ``max_running`` jobs running)."""
    now = timezone.now()
    with transaction.atomic():
        job = _locked(job_id)
        if job is None or job.status != JobStatus.QUEUED or job.attempt != attempt:
            return None
        _lock_organization(job.organization_id)
        running = Job.objects.filter(organization_id=job.organization_id, status=JobStatus.RUNNING).count()
        if running >= job.max_running:
            job.run_after = now + timedelta(seconds=CAP_DEFER_SECONDS)
            job.task_id = queue.enqueue(
                queue.JOB_RUN, str(job.id), attempt, priority=job.priority, run_after=job.run_after
            )
            job.save(update_fields=["run_after", "task_id"])
            return None
        job.status, job.progress, job.worker_id = JobStatus.RUNNING, 0, worker_id
        job.started_at = job.heartbeat_at = job.updated_at = now
        job.save(update_fields=["status", "progress", "worker_id", "started_at", "heartbeat_at", "updated_at"])
        publish_on_commit(job, "job.running")
        webhook_deliveries_create(job=job, event_type="job.running")
    return job


def _fenced(job: Job) -> QuerySet[Job]:
    return Job.objects.filter(id=job.id, attempt=job.attempt, status=JobStatus.RUNNING)


async def job_heartbeat(*, job: Job) -> bool:
    """Tell the reaper this attempt is alive; ``False`` when the job was cancelled or handed over."""
    now = timezone.now()
    return bool(await _fenced(job).aupdate(heartbeat_at=now))


async def job_progress(*, job: Job, progress: int) -> bool:
    """Record and publish a progress step (0–100); ``False`` when this attempt no longer owns the job."""
    now = timezone.now()
    job.progress = max(0, min(100, progress))
    updated = await _fenced(job).aupdate(progress=job.progress, heartbeat_at=now, updated_at=now)
    if updated:
        await apublish(job, "job.progress")
    return bool(updated)


def job_succeed(
    *, job_id: str, attempt: int, result: str, content_type: str, size: int, usage: dict | None, provider: str
) -> tuple[Job | None, bool]:
    """Finish ``attempt`` successfully.

    :returns: the job (``None`` if this attempt no longer owns it) and whether usage should be
        reported now — true exactly once per job, whatever the number of attempts.
    """
    now = timezone.now()
    with transaction.atomic():
        job = _locked(job_id)
        if job is None or job.status != JobStatus.RUNNING or job.attempt != attempt:
            return None, False
        charge = job.charged_at is None
        job.status, job.progress, job.error = JobStatus.SUCCEEDED, 100, None
        job.result_name, job.result_content_type, job.result_bytes = result, content_type, size
        job.usage, job.provider = usage, provider
        job.finished_at = job.updated_at = now
        if charge:
            job.charged_at = now
        job.save()
        publish_on_commit(job, "job.succeeded")
        webhook_deliveries_create(job=job, event_type="job.succeeded")
    return job, charge


def _backoff(attempt: int) -> float:
    return min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))


def job_fail_or_retry(
    *,
    job_id: str,
    attempt: int,
    error: dict[str, Any],
    retryable: bool,
    delay_seconds: float | None = None,
    wait_at_least: float = 0.0,
) -> Job | None:
    """End ``attempt`` with ``error``: queue the next attempt (with backoff) or fail the job for good.

    :param wait_at_least: the failure said when to try again (its ``Retry-After``): the next attempt
        waits that long at least, up to the longest backoff, instead of spending itself on a provider
        that said it is not ready.
    """
    now = timezone.now()
    with transaction.atomic():
        job = _locked(job_id)
        if job is None or job.status != JobStatus.RUNNING or job.attempt != attempt:
            return None
        job.error, job.updated_at, job.worker_id = error, now, ""
        if retryable and job.attempt < job.max_attempts:
            delay = _backoff(job.attempt) if delay_seconds is None else delay_seconds
            delay = max(delay, min(wait_at_least, BACKOFF_MAX_SECONDS))
            job.attempt += 1
            job.status, job.progress, job.run_after = JobStatus.QUEUED, 0, now + timedelta(seconds=delay)
            job.task_id = queue.enqueue(
                queue.JOB_RUN, str(job.id), job.attempt, priority=job.priority, run_after=job.run_after
            )
            job.save()
            publish_on_commit(job, "job.queued")
            return job
        job.status, job.finished_at = JobStatus.FAILED, now
        job.save()
        publish_on_commit(job, "job.failed")
        webhook_deliveries_create(job=job, event_type="job.failed")
    return job


def job_defer(*, job_id: str, attempt: int, delay_seconds: float, error: dict[str, Any]) -> Job | None:
    """Put ``attempt`` back in the queue for ``delay_seconds`` without spending one of the job's attempts
    (a rate limit said "later"), or fail the job once it has waited ``JOBS_RATE_LIMIT_MAX_WAIT_SECONDS``
    since it was submitted, so that a job cannot wait forever."""
    now = timezone.now()
    with transaction.atomic():
        job = _locked(job_id)
        if job is None or job.status != JobStatus.RUNNING or job.attempt != attempt:
            return None
        run_after = now + timedelta(seconds=delay_seconds)
        waited_too_long = (run_after - job.created_at).total_seconds() > settings.JOBS_RATE_LIMIT_MAX_WAIT_SECONDS
        job.error, job.updated_at, job.worker_id = error, now, ""
        if waited_too_long:
            job.status, job.finished_at = JobStatus.FAILED, now
            job.save()
            publish_on_commit(job, "job.failed")
            webhook_deliveries_create(job=job, event_type="job.failed")
            return job
        job.status, job.progress, job.run_after = JobStatus.QUEUED, 0, run_after
        job.task_id = queue.enqueue(queue.JOB_RUN, str(job.id), attempt, priority=job.priority, run_after=run_after)
        job.save()
        publish_on_commit(job, "job.queued")  # with the rate limit as its error
    return job


def job_reap() -> int:
    """Hand the jobs of workers that stopped reporting (killed, lost) to a new attempt; returns how many."""
    deadline = timezone.now() - timedelta(seconds=settings.JOBS_LEASE_SECONDS)
    stale = Job.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=deadline)
    reaped = 0
    for job_id, attempt, task_id in stale.values_list("id", "attempt", "task_id"):
        error = {"code": "worker_lost", "message": "The worker running this job stopped; it was retried."}
        if job_fail_or_retry(job_id=str(job_id), attempt=attempt, error=error, retryable=True, delay_seconds=0):
            queue.queue_entry_abandon(task_id)
            reaped += 1
    return reaped + _requeue_stranded(deadline)


def _requeue_stranded(deadline: datetime) -> int:
    """Queue again the jobs whose queue entry a worker claimed and died with before starting them.

    The job is still ``queued`` (``job_start`` never committed), its entry ``RUNNING`` for ever: no
    lease to expire, so the check above never sees it. The same attempt is queued anew; should
    the first worker be alive after all, ``job_start`` lets only one of the two run it.
    """
    queued = dict(Job.objects.filter(status=JobStatus.QUEUED).exclude(task_id="").values_list("task_id", "id"))
    requeued = 0
    for task_id in queue.entries_claimed_before(list(queued), deadline):
        with transaction.atomic():
            job = _locked(str(queued[task_id]))
            if job is None or job.status != JobStatus.QUEUED or str(job.task_id) != task_id:
                continue
            job.task_id = queue.enqueue(queue.JOB_RUN, str(job.id), job.attempt, priority=job.priority)
            job.save(update_fields=["task_id"])
            queue.queue_entry_abandon(task_id)
        requeued += 1
    return requeued


def job_cancel(*, job: Job) -> Job:
    """Cancel a queued or running job; a running attempt notices at its next heartbeat and stops.

    :raises JobNotCancellable: the job has already finished.
    """
    now = timezone.now()
    with transaction.atomic():
        locked = _locked(str(job.id))
        if locked is None or locked.status in TERMINAL:
            raise JobNotCancellable()
        locked.status, locked.finished_at, locked.updated_at = JobStatus.CANCELLED, now, now
        locked.save(update_fields=["status", "finished_at", "updated_at"])
        publish_on_commit(locked, "job.cancelled")
        webhook_deliveries_create(job=locked, event_type="job.cancelled")
    return locked


def job_requeue(*, job: Job) -> Job:
    """Run a failed or cancelled job again (an operator's "retry"), as a new attempt."""
    now = timezone.now()
    with transaction.atomic():
        locked = _locked(str(job.id))
        if locked is None or locked.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise JobNotCancellable("Only failed or cancelled jobs can be retried.", code="job_not_retryable")
        locked.attempt += 1
        locked.max_attempts = max(locked.max_attempts, locked.attempt)
        locked.status, locked.progress, locked.error, locked.finished_at = JobStatus.QUEUED, 0, None, None
        locked.run_after, locked.updated_at = None, now
        locked.task_id = queue.enqueue(queue.JOB_RUN, str(locked.id), locked.attempt, priority=locked.priority)
        locked.save()
        publish_on_commit(locked, "job.queued")
    return locked
