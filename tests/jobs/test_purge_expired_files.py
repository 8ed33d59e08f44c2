"""``manage.py purge_expired_files``: what the worker purges periodically, at once and to the end."""

from __future__ import annotations

import io
import os
import time
import uuid
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from gateway.files import store_bytes
from jobs import queue
from jobs.models import Job
from jobs.services import purge as purge_module
from tests.accounts.factories import organization_create_for_tests
from tests.jobs.factories import PNG, finished_job_create_for_tests

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def purge() -> str:
    out = io.StringIO()
    call_command("purge_expired_files", stdout=out)
    return out.getvalue()


def test_the_command_deletes_expired_images_and_old_jobs_and_keeps_the_rest(settings):
    settings.JOBS_RETENTION_DAYS = 30
    organization = organization_create_for_tests(slug="acme")
    expired, fresh = (store_bytes(f"images/{uuid.uuid4().hex}.png", PNG) for _ in range(2))
    os.utime(default_storage.path(expired), (time.time() - 86_400,) * 2)
    old, recent = (finished_job_create_for_tests(organization=organization) for _ in range(2))
    Job.objects.filter(id=old.id).update(finished_at=timezone.now() - timedelta(days=31))

    assert purge().strip() == "Deleted 1 expired image(s) and 1 job(s) with 1 stored file(s)."
    assert not default_storage.exists(expired) and default_storage.exists(fresh)
    assert list(Job.objects.values_list("id", flat=True)) == [recent.id]
    assert not default_storage.exists(old.result_name) and default_storage.exists(recent.result_name)


def test_the_command_runs_until_nothing_expired_is_left(monkeypatch):
    monkeypatch.setattr(purge_module, "MAX_IMAGES", 2)
    names = [store_bytes(f"images/{uuid.uuid4().hex}.png", PNG) for _ in range(5)]
    for name in names:
        os.utime(default_storage.path(name), (time.time() - 86_400,) * 2)
    assert "Deleted 5 expired image(s)" in purge()
    assert not any(default_storage.exists(name) for name in names)


def test_with_nothing_expired_the_command_deletes_nothing():
    assert purge().strip() == "Deleted 0 expired image(s) and 0 job(s) with 0 stored file(s)."


def test_with_schedule_the_command_only_queues_the_periodic_purge_once():
    store_bytes(f"images/{uuid.uuid4().hex}.png", PNG)
    for _ in range(2):  # every worker start runs it; one run stays queued
        out = io.StringIO()
        call_command("purge_expired_files", "--schedule", stdout=out)
    assert "scheduled" in out.getvalue()
    [entry] = DBTaskResult.objects.filter(task_path=queue.FILES_PURGE, status=TaskResultStatus.READY)
    assert entry.run_after <= timezone.now() + timedelta(seconds=queue.PURGE_BACKLOG_SECONDS)
    assert len(default_storage.listdir("images")[1]) == 1  # nothing deleted now: the worker does it


def test_with_schedule_a_run_left_running_by_a_dead_worker_does_not_stop_the_purge():
    # The worker this one replaces died mid-run: its entry stays RUNNING and would never reschedule.
    entry_id = queue.enqueue(queue.FILES_PURGE, priority=queue.PURGE_PRIORITY)
    DBTaskResult.objects.filter(id=entry_id).update(status=TaskResultStatus.RUNNING, started_at=timezone.now())
    call_command("purge_expired_files", "--schedule", stdout=io.StringIO())
    assert DBTaskResult.objects.filter(task_path=queue.FILES_PURGE, status=TaskResultStatus.READY).count() == 1
