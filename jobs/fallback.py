"""Live updates without Redis: poll the organisation's job changes from the database.

Embedded (no ``REDIS_URL``) the channel layer is in-memory, so events published by the separate
worker process never reach this process's WebSocket clients. While such a client is connected,
:func:`poll_changes` reads the jobs of its organisation changed since the last look, about once a
second, and sends each change as the event the worker would have published. :class:`SentStates`
remembers what each client was last sent, so a change that arrives both ways (an event published
in this very process, and the poll) is sent once.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import structlog
from channels.layers import BaseChannelLayer, InMemoryChannelLayer
from django.utils import timezone

from jobs import selectors
from jobs.events import job_state
from jobs.types import JobStatus

log = structlog.get_logger("mcp.jobs")

__all__ = ["POLL_INTERVAL_SECONDS", "SentStates", "layer_is_in_process", "poll_changes"]

POLL_INTERVAL_SECONDS = 1.0
#: Each poll looks this far behind the previous one: a change committed a little after the time it
#: was stamped with is still seen (SentStates drops what was already sent).
LOOKBACK = timedelta(seconds=5)
#: Jobs whose last sent state is remembered per connection.
MAX_TRACKED = 2000

Send = Callable[[dict[str, Any]], Awaitable[None]]


def layer_is_in_process(layer: BaseChannelLayer | None) -> bool:
    """Whether events from other processes cannot reach this one (no layer, or the in-memory one)."""
    return layer is None or isinstance(layer, InMemoryChannelLayer)


class SentStates:
    """The last (status, progress, attempt) sent to one client for each job."""

    def __init__(self) -> None:
        self._sent: OrderedDict[str, tuple[str, int, int]] = OrderedDict()

    def event_for(self, state: dict[str, Any]) -> str | None:
        """Record ``state``; return the event type to send, or ``None`` when the client already has it."""
        key = (state["status"], state["progress"], state["attempt"])
        previous = self._sent.get(state["id"])
        if previous == key:
            return None
        self._sent[state["id"]] = key
        self._sent.move_to_end(state["id"])
        while len(self._sent) > MAX_TRACKED:
            self._sent.popitem(last=False)
        same_run = previous is not None and previous[0] == key[0] == JobStatus.RUNNING and previous[2] == key[2]
        return "job.progress" if same_run else f"job.{state['status']}"


async def poll_changes(*, organization_id: int, sent: SentStates, send: Send, interval: float | None = None) -> None:
    """Send the organisation's job changes until cancelled (when the client disconnects)."""
    cursor = timezone.now()
    while True:
        await asyncio.sleep(POLL_INTERVAL_SECONDS if interval is None else interval)
        started = timezone.now()
        try:
            jobs = await selectors.job_changes(organization_id=organization_id, since=cursor - LOOKBACK)
        except Exception as exc:  # noqa: BLE001 - a database hiccup skips one poll, the connection stays
            log.warning("job_poll_failed", organization=organization_id, error_type=type(exc).__name__)
            continue
        for job in jobs:
            state = job_state(job)
            if event_type := sent.event_for(state):
                await send({"type": event_type, "job": state})
        cursor = started
