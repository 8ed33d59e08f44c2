"""Each worker's watchdog keeps a sweep and a purge run scheduled, even when no job is submitted."""

from __future__ import annotations

import time

import pytest
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from jobs import queue
from jobs.watchdog import chains_ensure, watchdog_start

pytestmark = pytest.mark.django_db(transaction=True)


def scheduled(task_path: str) -> int:
    return DBTaskResult.objects.filter(task_path=task_path, status=TaskResultStatus.READY).count()


def test_the_watchdog_schedules_one_sweep_and_one_purge_however_often_it_looks():
    chains_ensure()
    chains_ensure()
    assert scheduled(queue.JOB_REAP) == 1 and scheduled(queue.FILES_PURGE) == 1


def test_the_watchdog_thread_looks_at_once_and_then_every_half_lease(settings):
    settings.JOBS_LEASE_SECONDS = 2
    watchdog = watchdog_start()
    try:
        deadline = time.monotonic() + 10
        while not scheduled(queue.JOB_REAP) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert scheduled(queue.JOB_REAP) == 1
        DBTaskResult.objects.filter(task_path=queue.JOB_REAP).delete()  # a chain that ended
        deadline = time.monotonic() + 10
        while not scheduled(queue.JOB_REAP) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert scheduled(queue.JOB_REAP) == 1
    finally:
        watchdog.stop()
