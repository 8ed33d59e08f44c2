"""Job queue metrics, read from the database when ``/metrics`` is scraped.

The worker serves no HTTP, so it has nothing to scrape; the web pods report the queue as the
database sees it. Every replica reports the same values (alerts take ``max``). Reads are cached
for :data:`REFRESH_SECONDS` so frequent scrapes cost one query batch at most that often.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

import structlog
from django.db.models import Q
from django.utils import timezone
from prometheus_client import Gauge

from jobs.models import Job
from jobs.types import JobStatus

log = structlog.get_logger("mcp.jobs")

REFRESH_SECONDS = 5.0
#: Recent wait and run times are taken over the jobs that finished within this window.
WINDOW = timedelta(minutes=5)
_SAMPLE = 500

QUEUE_DEPTH = Gauge("mcp_jobs_queue_depth", "Jobs waiting for a worker (ready to run now).")
RUNNING = Gauge("mcp_jobs_running", "Jobs being executed by a worker.")
OLDEST_WAIT = Gauge("mcp_jobs_oldest_wait_seconds", "Age of the oldest job waiting for a worker.")
WAIT_P50 = Gauge("mcp_jobs_wait_seconds_p50", "Median wait (submit → running) of jobs finished in the last 5 min.")
RUN_P50 = Gauge("mcp_jobs_run_seconds_p50", "Median run time of jobs that finished in the last 5 min.")
FINISHED_RECENT = Gauge("mcp_jobs_finished_recent", "Jobs finished in the last 5 min, by final status.", ["status"])

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
    waits, runs = [], []
    counts = dict.fromkeys((JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED), 0)
    recent = Job.objects.filter(finished_at__gte=now - WINDOW).order_by("-finished_at")
    async for status, created, started, finished in recent.values_list(
        "status", "created_at", "started_at", "finished_at"
    )[:_SAMPLE]:
        counts[status] = counts.get(status, 0) + 1
        if started is not None:
            waits.append((started - created).total_seconds())
            runs.append((finished - started).total_seconds())
    WAIT_P50.set(statistics.median(waits) if waits else 0)
    RUN_P50.set(statistics.median(runs) if runs else 0)
    for status, count in counts.items():
        FINISHED_RECENT.labels(status).set(count)
