"""Every worker's watchdog: keeps the reaper's and the purge's chains of runs alive.

Both tasks queue their own next run, and submitting a job makes sure one of each is queued. But a
worker killed after claiming a sweep and before that sweep queued the next leaves the chain with no
waiting entry; with no new submission, nothing would schedule another sweep, and the jobs of the
next worker to die would stay "running" for ever. So each worker checks, every half lease, that a
run of each is scheduled (:func:`jobs.queue.reaper_ensure` mends a chain whose run died).
"""

from __future__ import annotations

import threading

import structlog
from django.conf import settings
from django.db import DatabaseError, connections

from jobs import queue

log = structlog.get_logger("mcp.jobs")


def chains_ensure() -> None:
    """Make sure a sweep and a purge run are scheduled."""
    queue.reaper_ensure(delay_seconds=settings.JOBS_LEASE_SECONDS / 2)
    queue.purger_ensure(delay_seconds=queue.PURGE_INTERVAL_SECONDS)


class Watchdog:
    """A daemon thread that runs :func:`chains_ensure` at once and then every ``interval`` seconds."""

    def __init__(self, interval: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(interval,), name="jobs-watchdog", daemon=True)

    def start(self) -> Watchdog:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _watch(self, interval: float) -> None:
        while True:
            try:
                chains_ensure()
            except DatabaseError as error:  # the database is down; the next round tries again
                log.warning("jobs_watchdog_failed", error=type(error).__name__)
            finally:
                connections.close_all()  # this thread's own connections
            if self._stop.wait(interval):
                return


def watchdog_start() -> Watchdog:
    """Start a worker's watchdog, looking every half lease."""
    return Watchdog(settings.JOBS_LEASE_SECONDS / 2).start()
