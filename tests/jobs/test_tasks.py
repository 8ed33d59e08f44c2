"""The purge task queues its next run before it purges (sooner while expired files are left, and even
after a failure); submitting a job makes sure one is scheduled."""

from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta

import pytest
from django.core.files.storage import FileSystemStorage, default_storage
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from accounts.services import organization_create
from gateway.files import store_bytes
from jobs import queue, services
from jobs.models import Job
from jobs.services import purge as purge_module
from jobs.tasks import files_purge, job_reap
from jobs.types import PurgeOutcome
from tests.jobs.factories import PNG, finished_job_create_for_tests

pytestmark = pytest.mark.django_db


class BrokenStorage(FileSystemStorage):
    """A storage that is down."""

    def listdir(self, path):
        raise OSError("storage unreachable")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def scheduled_purges() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path=queue.FILES_PURGE, status=TaskResultStatus.READY))


def assert_runs_in(entry: DBTaskResult, seconds: float) -> None:
    delay = (entry.run_after - timezone.now()).total_seconds()
    assert seconds - 5 <= delay <= seconds, delay


def test_a_purge_run_deletes_and_schedules_the_next_one_interval_later():
    name = store_bytes(f"images/{uuid.uuid4().hex}.png", PNG)
    os.utime(default_storage.path(name), (time.time() - 86_400,) * 2)
    assert files_purge.call() == 1
    assert not default_storage.exists(name)
    [entry] = scheduled_purges()
    assert_runs_in(entry, queue.PURGE_INTERVAL_SECONDS)
    assert entry.priority == queue.PURGE_PRIORITY


def test_the_next_run_is_scheduled_once_however_often_the_task_runs():
    files_purge.call()
    files_purge.call()
    assert len(scheduled_purges()) == 1


def test_a_run_that_left_expired_jobs_behind_runs_again_soon(monkeypatch):
    monkeypatch.setattr(purge_module, "MAX_JOBS", 1)
    organization = organization_create(name="Acme", slug="acme")
    for _ in range(2):
        job = finished_job_create_for_tests(organization=organization)
        Job.objects.filter(id=job.id).update(finished_at=timezone.now() - timedelta(days=400))
    files_purge.call()
    [entry] = scheduled_purges()
    assert_runs_in(entry, queue.PURGE_BACKLOG_SECONDS)


def test_a_failed_run_still_schedules_the_next_one(settings):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": f"{__name__}.BrokenStorage"}}
    with pytest.raises(OSError, match="storage unreachable"):
        files_purge.call()
    [entry] = scheduled_purges()
    assert_runs_in(entry, queue.PURGE_INTERVAL_SECONDS)


def test_the_purge_queues_its_next_run_before_purging_so_a_worker_killed_mid_run_does_not_end_it(monkeypatch):
    seen_while_purging = []

    def purging() -> PurgeOutcome:
        seen_while_purging.append(len(scheduled_purges()))
        return PurgeOutcome(images=0, jobs=0, job_files=0, more=False)

    monkeypatch.setattr(services, "expired_files_purge", purging)
    files_purge.call()
    assert seen_while_purging == [1]  # already queued when the purge began


def test_submitting_a_job_schedules_the_purge_once():
    organization = organization_create(name="Acme", slug="acme")
    for _ in range(2):
        services.job_create(
            organization_id=organization.pk, key_id=None, user_id=None, kind="text", model="openai", params={}
        )
    [entry] = scheduled_purges()
    assert_runs_in(entry, queue.PURGE_INTERVAL_SECONDS)


def scheduled_sweeps() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path=queue.JOB_REAP, status=TaskResultStatus.READY))


def test_the_reaper_queues_its_next_sweep_before_sweeping_so_a_worker_killed_mid_sweep_does_not_end_it(
    monkeypatch, settings
):
    seen_while_sweeping = []
    monkeypatch.setattr(services, "job_reap", lambda: seen_while_sweeping.append(len(scheduled_sweeps())) or 0)
    assert job_reap.call() == 0
    assert seen_while_sweeping == [1]  # already queued when the sweep began
    [entry] = scheduled_sweeps()
    assert_runs_in(entry, settings.JOBS_LEASE_SECONDS / 2)


def test_a_sweep_that_fails_still_leaves_the_next_one_queued(monkeypatch):
    def broken() -> int:
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "job_reap", broken)
    with pytest.raises(RuntimeError, match="database went away"):
        job_reap.call()
    assert len(scheduled_sweeps()) == 1


def claimed_sweep(*, seconds_ago: float) -> DBTaskResult:
    """A sweep a worker claimed ``seconds_ago`` (and, when that is long ago, died running)."""
    entry = DBTaskResult.objects.get(id=queue.enqueue(queue.JOB_REAP, priority=queue.REAP_PRIORITY))
    entry.claim("worker-that-died")
    DBTaskResult.objects.filter(id=entry.id).update(started_at=timezone.now() - timedelta(seconds=seconds_ago))
    return entry


def test_a_sweep_whose_worker_died_before_it_queued_the_next_is_replaced(settings):
    dead = claimed_sweep(seconds_ago=queue.reaper_presumed_dead_after(settings.JOBS_LEASE_SECONDS) + 1)
    queue.reaper_ensure(delay_seconds=1)
    [entry] = scheduled_sweeps()
    assert_runs_in(entry, 1)
    dead.refresh_from_db()
    assert dead.status == TaskResultStatus.FAILED and dead.exception_class_path == "jobs.queue.WorkerLost"


def test_a_sweep_running_now_is_not_doubled(settings):
    claimed_sweep(seconds_ago=queue.reaper_presumed_dead_after(settings.JOBS_LEASE_SECONDS) - 5)
    queue.reaper_ensure(delay_seconds=1)
    assert scheduled_sweeps() == []


def test_a_sweep_is_presumed_dead_after_four_leases_and_never_under_a_minute():
    assert queue.reaper_presumed_dead_after(2) == 60
    assert queue.reaper_presumed_dead_after(30) == 120
