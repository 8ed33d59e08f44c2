"""Job and webhook metrics.

The queue's state (depth, running, oldest wait) is read from the database when a web pod's
``/metrics`` is scraped: every replica reports the same values (alerts take ``max``), and reads are
cached for :data:`REFRESH_SECONDS` so frequent scrapes cost one query batch at most that often.

What happens to each job and webhook attempt (wait and run time, deliveries, delivery lag) is
observed where it happens, in the worker, which serves its own metrics on ``METRICS_PORT``.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import structlog
from django.db.models import Count, Q
from django.utils import timezone
from prometheus_client import Counter, Gauge, Histogram

from jobs.models import Job
from jobs.types import JobStatus

log = structlog.get_logger("mcp.jobs")

REFRESH_SECONDS = 5.0
#: Recent outcomes are counted over the jobs that finished within this window.
WINDOW = timedelta(minutes=5)
_SECONDS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)

QUEUE_DEPTH = Gauge("mcp_jobs_queue_depth", "Jobs waiting for a worker (ready to run now).")
RUNNING = Gauge("mcp_jobs_running", "Jobs being executed by a worker.")
OLDEST_WAIT = Gauge("mcp_jobs_oldest_wait_seconds", "Age of the oldest job waiting for a worker.")
FINISHED_RECENT = Gauge("mcp_jobs_finished_recent", "Jobs finished in the last 5 min, by final status.", ["status"])
WAIT = Histogram(
    "mcp_jobs_wait_seconds",
    "Time an attempt waited for a worker once it was due (submitted, or its retry time came), by kind.",
    ["kind"],
    buckets=_SECONDS_BUCKETS,
)
RUN = Histogram(
    "mcp_jobs_run_seconds",
    "Time a worker spent on an attempt, by kind and result (succeeded, failed, deferred, abandoned, crashed).",
    ["kind", "result"],
    buckets=_SECONDS_BUCKETS,
)
WEBHOOK_ATTEMPTS = Counter(
    "mcp_webhook_delivery_attempts_total",
    "Webhook delivery attempts, by result (delivered, failed: a non-2xx answer, a timeout or a refused address).",
    ["result"],
)
WEBHOOK_GAVE_UP = Counter("mcp_webhook_deliveries_failed_total", "Webhook deliveries given up after the last retry.")
WEBHOOK_LAG = Histogram(
    "mcp_webhook_delivery_lag_seconds",
    "Event creation to successful delivery of a webhook, retries included.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 30 * 3600),
)

_next_refresh = 0.0


async def refresh_job_gauges() -> None:
    """Update the gauges from the database (at most every few seconds); never fails a scrape."""
    global _next_refresh
    if time.monotonic() < _next_refresh:
        return
    _next_refresh = time.monotonic() + REFRESH_SECONDS
    try:
        await _refresh()
    except Exception as exc:  # noqa: BLE001 - a scrape must answer even when the database does not.
        log.warning("job_metrics_unavailable", error_type=type(exc).__name__)


async def _refresh() -> None:
    now = timezone.now()
    ready = Job.objects.filter(Q(run_after__isnull=True) | Q(run_after__lte=now), status=JobStatus.QUEUED)
    QUEUE_DEPTH.set(await ready.acount())
    RUNNING.set(await Job.objects.filter(status=JobStatus.RUNNING).acount())
    oldest = await ready.order_by("created_at").values_list("created_at", flat=True).afirst()
    OLDEST_WAIT.set((now - oldest).total_seconds() if oldest else 0)
    counts: dict[str, int] = dict.fromkeys((JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED), 0)
    recent = Job.objects.filter(finished_at__gte=now - WINDOW).values("status").annotate(n=Count("id"))
    async for row in recent.order_by():
        counts[row["status"]] = row["n"]
    for status, count in counts.items():
        FINISHED_RECENT.labels(status).set(count)


def observe_attempt_start(*, kind: str, due: datetime, started: datetime) -> None:
    """An attempt was claimed by a worker: how long it waited once due."""
    WAIT.labels(kind).observe(max(0.0, (started - due).total_seconds()))


def observe_attempt_end(*, kind: str, result: str, seconds: float) -> None:
    RUN.labels(kind, result).observe(seconds)


def observe_webhook_attempt(*, delivered: bool, gave_up: bool, created: datetime) -> None:
    """Count one delivery attempt; a success also records the lag since the event was created."""
    WEBHOOK_ATTEMPTS.labels("delivered" if delivered else "failed").inc()
    if delivered:
        WEBHOOK_LAG.observe(max(0.0, (timezone.now() - created).total_seconds()))
    elif gave_up:
        WEBHOOK_GAVE_UP.inc()
