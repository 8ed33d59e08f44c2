"""Live job events: their shape, the per-organisation group they go to, and publishing them.

Every status change and progress step, and the deletion of a job's result
(:data:`RESULT_DELETED`), is sent to the group of the job's organisation only, named by
:func:`organization_group`; the WebSocket consumer joins exactly that group after
authenticating, so no connection ever receives another organisation's events.
"""

from __future__ import annotations

from typing import Any

import structlog
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from jobs.models import Job

log = structlog.get_logger("mcp.jobs")

#: The consumer's handler for group messages (``type`` ``job.event`` → ``job_event``).
GROUP_MESSAGE_TYPE = "job.event"
#: A job's stored result was deleted (the job itself stays, in its final state): open pages drop
#: their link to it or the result itself.
RESULT_DELETED = "job.result_deleted"


def organization_group(organization_id: int) -> str:
    """The one channel-layer group of an organisation's job events."""
    return f"jobs.org.{int(organization_id)}"


def job_state(job: Job) -> dict[str, Any]:
    """The job as events and snapshots show it (no secrets, no result URL: GET the job for that)."""
    return {
        "id": str(job.id),
        "kind": job.kind,
        "model": job.model,
        "status": job.status,
        "progress": job.progress,
        "attempt": job.attempt,
        "error": job.error,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def event(job: Job, event_type: str) -> dict[str, Any]:
    return {"type": GROUP_MESSAGE_TYPE, "event": event_type, "job": job_state(job)}


async def apublish(job: Job, event_type: str) -> None:
    """Send an event to the job's organisation; a channel-layer outage is logged, never raised."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(organization_group(job.organization_id), event(job, event_type))
    except Exception as exc:  # noqa: BLE001 - live updates are best effort; the job itself must go on.
        log.warning("job_event_not_published", job=str(job.id), event=event_type, error_type=type(exc).__name__)


def publish_on_commit(job: Job, event_type: str) -> None:
    """Publish once the current transaction commits (listeners then read committed state)."""
    message = event(job, event_type)
    organization_id = job.organization_id
    transaction.on_commit(lambda: _send(organization_id, message))


def _send(organization_id: int, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(organization_group(organization_id), message)
    except Exception as exc:  # noqa: BLE001 - see apublish
        log.warning("job_event_not_published", job=message["job"]["id"], error_type=type(exc).__name__)
