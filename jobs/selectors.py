"""Reads of jobs and webhooks, scoped to one organisation. Job reads are async (the /v1 views and
the WebSocket consumer run on the event loop); webhook reads serve the DRF management API."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db.models import QuerySet

from accounts.types import KeyIdentity
from billing.selectors import plan_get_for_org
from jobs.exceptions import JobNotFound, JobResultNotFound, WebhookDeliveryNotFound, WebhookEndpointNotFound
from jobs.models import Job, WebhookDelivery, WebhookEndpoint
from jobs.types import TERMINAL, JobStatus

__all__ = [
    "job_changes",
    "job_get",
    "job_get_sync",
    "job_list",
    "job_recent",
    "job_result_get",
    "job_result_list",
    "job_result_open",
    "job_result_text",
    "job_scheduling_get",
    "job_snapshot",
    "job_with_result",
    "webhook_delivery_get",
    "webhook_delivery_list",
    "webhook_endpoint_get",
    "webhook_endpoint_list",
]

MAX_PAGE = 100
#: Key limits that override the plan's job scheduling for one key.
PRIORITY_LIMIT, RUNNING_LIMIT = "job_priority", "max_running_jobs"


async def job_scheduling_get(*, identity: KeyIdentity) -> tuple[int, int | None]:
    """A new job's queue priority and its organisation's running cap: the organisation's plan,
    tightened by the key's ``limits`` (never loosened, even for a key made before a downgrade);
    ``None`` for the cap means ``JOBS_MAX_RUNNING_PER_ORG``."""
    plan = await plan_get_for_org(organization_id=identity.organization_id)
    plan_priority = plan.job_priority if plan else 0
    plan_running = (plan.max_running_jobs if plan else None) or settings.JOBS_MAX_RUNNING_PER_ORG
    priority = min(int(identity.limits.get(PRIORITY_LIMIT, plan_priority)), plan_priority)
    if RUNNING_LIMIT not in identity.limits:
        return priority, plan.max_running_jobs if plan else None
    return priority, min(int(identity.limits[RUNNING_LIMIT]), plan_running)


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


async def job_get(*, organization_id: int, job_id: str) -> Job:
    """:raises JobNotFound: no such job, or it belongs to another organisation (the two look the same)."""
    ident = _uuid(job_id)
    job = await Job.objects.filter(id=ident, organization_id=organization_id).afirst() if ident else None
    if job is None:
        raise JobNotFound()
    return job


async def job_with_result(*, job_id: str) -> Job | None:
    """A succeeded job with a stored result (for signed result URLs, which carry no organisation)."""
    ident = _uuid(job_id)
    if ident is None:
        return None
    return await Job.objects.filter(id=ident, status=JobStatus.SUCCEEDED).exclude(result_name="").afirst()


async def job_list(
    *,
    organization_id: int,
    status: str | None = None,
    kind: str | None = None,
    created_before: datetime | None = None,
    limit: int = 20,
) -> tuple[list[Job], bool]:
    """Newest first; page with ``created_before`` = the last job's ``created_at``. Returns jobs, has_more."""
    jobs = Job.objects.filter(organization_id=organization_id)
    if status:
        jobs = jobs.filter(status=status)
    if kind:
        jobs = jobs.filter(kind=kind)
    if created_before:
        jobs = jobs.filter(created_at__lt=created_before)
    limit = max(1, min(MAX_PAGE, limit))
    page = [job async for job in jobs.order_by("-created_at")[: limit + 1]]
    return page[:limit], len(page) > limit


def job_recent(
    *, organization_id: int, limit: int = 5, status: str | None = None, kind: str | None = None
) -> list[Job]:
    """The organisation's newest jobs, optionally of one status and kind, for pages rendered on the server."""
    jobs = Job.objects.filter(organization_id=organization_id)
    if status:
        jobs = jobs.filter(status=status)
    if kind:
        jobs = jobs.filter(kind=kind)
    return list(jobs.order_by("-created_at")[: max(1, min(MAX_PAGE, limit))])


def job_get_sync(*, organization_id: int, job_id: str) -> Job:
    """:func:`job_get` for sync code (the dashboard). :raises JobNotFound: not found or not the organisation's."""
    ident = _uuid(job_id)
    job = None if ident is None else Job.objects.filter(organization_id=organization_id, id=ident).first()
    if job is None:
        raise JobNotFound()
    return job


def job_result_list(*, organization_id: int, kind: str | None = None) -> QuerySet[Job]:
    """The organisation's succeeded jobs whose result is still stored, newest first (the results gallery)."""
    jobs = Job.objects.filter(organization_id=organization_id, status=JobStatus.SUCCEEDED).exclude(result_name="")
    if kind:
        jobs = jobs.filter(kind=kind)
    return jobs.order_by("-created_at", "-id")


def job_result_get(*, organization_id: int, job_id: str) -> Job:
    """A succeeded job of the organisation with a stored result.

    :raises JobResultNotFound: no such job, not the organisation's, not finished, or its result deleted.
    """
    ident = _uuid(job_id)
    job = None if ident is None else job_result_list(organization_id=organization_id).filter(id=ident).first()
    if job is None:
        raise JobResultNotFound()
    return job


def job_result_open(*, job: Job) -> File:
    """The stored result of ``job``, opened for reading (the caller closes it).

    :raises JobResultNotFound: the file is no longer in storage.
    """
    try:
        return default_storage.open(job.result_name, "rb")
    except FileNotFoundError:
        raise JobResultNotFound() from None


#: A text result shown on a page is cut to this many characters (the download has it all).
RESULT_TEXT_CHARS = 600
#: At most this much of a stored text result is read to find its words.
RESULT_TEXT_READ_BYTES = 256 * 1024


def job_result_text(*, job: Job, limit: int = RESULT_TEXT_CHARS) -> str:
    """The words of a text or transcription result (the answer, not its JSON envelope), cut to ``limit``."""
    try:
        with job_result_open(job=job) as handle:
            raw = handle.read(RESULT_TEXT_READ_BYTES)
    except JobResultNotFound:
        return ""
    text = raw.decode("utf-8", errors="replace")
    if job.result_content_type.startswith("application/json"):
        try:
            body = json.loads(raw)
            text = body["text"] if "text" in body else body["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            pass  # cut short or another shape: show it as it was stored
    text = str(text or "")
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def job_snapshot(*, organization_id: int, limit: int = 50) -> list[Job]:
    """What a (re)connecting client is sent first: unfinished jobs, then the most recently changed."""
    active = [j async for j in Job.objects.filter(organization_id=organization_id).exclude(status__in=TERMINAL)[:limit]]
    recent = Job.objects.filter(organization_id=organization_id, status__in=TERMINAL).order_by("-updated_at")
    done = [j async for j in recent[: max(0, limit - len(active))]]
    return active + done


async def job_changes(*, organization_id: int, since: datetime, limit: int = 200) -> list[Job]:
    """The organisation's jobs changed at or after ``since``, oldest change first (the no-Redis live feed)."""
    changed = Job.objects.filter(organization_id=organization_id, updated_at__gte=since).order_by("updated_at")
    return [job async for job in changed[:limit]]


def webhook_endpoint_list(*, organization_id: int) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(organization_id=organization_id).order_by("-created_at")


def webhook_endpoint_get(*, organization_id: int, endpoint_id: int) -> WebhookEndpoint:
    """:raises WebhookEndpointNotFound: no such endpoint, or another organisation's (they look the same)."""
    endpoint = WebhookEndpoint.objects.filter(organization_id=organization_id, id=endpoint_id).first()
    if endpoint is None:
        raise WebhookEndpointNotFound()
    return endpoint


def webhook_delivery_list(
    *, organization_id: int, endpoint_id: int | None = None, status: str | None = None, limit: int = 20
) -> list[WebhookDelivery]:
    """The newest deliveries (at most ``limit``, capped at 100), each with its attempts prefetched."""
    deliveries = WebhookDelivery.objects.filter(organization_id=organization_id)
    if endpoint_id is not None:
        deliveries = deliveries.filter(endpoint_id=endpoint_id)
    if status:
        deliveries = deliveries.filter(status=status)
    limit = max(1, min(MAX_PAGE, limit))
    return list(deliveries.prefetch_related("attempt_log").order_by("-created_at")[:limit])


def webhook_delivery_get(*, organization_id: int, delivery_id: str, endpoint_id: int | None = None) -> WebhookDelivery:
    """:raises WebhookDeliveryNotFound: no such delivery (of that endpoint) in this organisation."""
    ident = _uuid(delivery_id)
    if ident is None:
        raise WebhookDeliveryNotFound()
    deliveries = WebhookDelivery.objects.filter(organization_id=organization_id, id=ident)
    if endpoint_id is not None:
        deliveries = deliveries.filter(endpoint_id=endpoint_id)
    delivery = deliveries.first()
    if delivery is None:
        raise WebhookDeliveryNotFound()
    return delivery
