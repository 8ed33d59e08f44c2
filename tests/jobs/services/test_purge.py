"""The purge of expired files: generated images whose links expired, finished jobs past their retention."""

from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage, default_storage
from django.utils import timezone
from structlog.testing import capture_logs

from gateway.files import store_bytes
from gateway.images import STORAGE_DIR
from jobs.models import Job
from jobs.results import job_directory, result_name
from jobs.services import expired_files_purge
from jobs.services import purge as purge_module
from jobs.services.purge import URL_GRACE_SECONDS, expired_images_purge, expired_jobs_purge
from jobs.types import JobStatus
from tests.accounts.factories import organization_create_for_tests
from tests.jobs.factories import PNG, finished_job_create_for_tests

pytestmark = pytest.mark.django_db

LINK_SECONDS = 3600


class TimelessStorage(FileSystemStorage):
    """A storage that, like Django's base ``Storage``, cannot tell when a file was stored."""

    def get_modified_time(self, name):
        raise NotImplementedError("This backend doesn't support absolute paths.")


class RacedStorage(FileSystemStorage):
    """A storage where another run deleted the first file it asks about, saying so as S3 does (no FileNotFoundError)."""

    asked = 0

    def get_modified_time(self, name):
        RacedStorage.asked += 1
        if RacedStorage.asked == 1:
            raise RuntimeError("An error occurred (404) when calling the HeadObject operation: Not Found")
        return super().get_modified_time(name)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.JOBS_RESULT_URL_SECONDS = LINK_SECONDS
    settings.JOBS_RETENTION_DAYS = 30


@pytest.fixture
def org():
    return organization_create_for_tests(slug="acme")


def image_stored(*, age_seconds: float) -> str:
    """A generated image as ``gateway.images`` stores it, last written ``age_seconds`` ago."""
    name = store_bytes(f"{STORAGE_DIR}/{uuid.uuid4().hex}.png", PNG)
    written = time.time() - age_seconds
    os.utime(default_storage.path(name), (written, written))
    return name


def job_finished(org, *, days_ago: float) -> Job:
    """A succeeded job with a stored input and result, finished ``days_ago``."""
    job = finished_job_create_for_tests(organization=org)
    input_name = result_name(organization_id=org.pk, job_id=job.id.hex, content_type="", stem="input")
    job.input_name = store_bytes(input_name, b"audio")
    job.finished_at = timezone.now() - timedelta(days=days_ago)
    job.save(update_fields=["input_name", "finished_at"])
    return job


def test_an_image_whose_link_expired_is_deleted():
    expired = image_stored(age_seconds=LINK_SECONDS + URL_GRACE_SECONDS + 60)
    assert expired_images_purge() == (1, False)
    assert not default_storage.exists(expired)


def test_a_fresh_image_is_kept_until_its_link_expired_and_the_grace_passed():
    fresh = image_stored(age_seconds=60)
    # Its link (minted when it was stored) has just expired: a URL fetched at its last second still works.
    just_expired = image_stored(age_seconds=LINK_SECONDS + 1)
    assert expired_images_purge() == (0, False)
    assert default_storage.exists(fresh) and default_storage.exists(just_expired)


def test_a_shorter_link_lifetime_expires_images_sooner(settings):
    name = image_stored(age_seconds=900)
    assert expired_images_purge() == (0, False)
    settings.JOBS_RESULT_URL_SECONDS = 60
    assert expired_images_purge() == (1, False)
    assert not default_storage.exists(name)


def test_without_any_stored_image_the_purge_deletes_nothing():
    assert expired_images_purge() == (0, False)


def test_one_run_deletes_at_most_its_limit_and_says_more_are_left():
    names = [image_stored(age_seconds=10 * LINK_SECONDS) for _ in range(3)]
    assert expired_images_purge(limit=2) == (2, True)
    assert sum(default_storage.exists(name) for name in names) == 1
    assert expired_images_purge(limit=2) == (1, False)


def test_a_storage_without_modification_times_is_skipped_and_logged_not_a_crash(settings):
    name = image_stored(age_seconds=10 * LINK_SECONDS)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{__name__}.TimelessStorage", "OPTIONS": {"location": settings.MEDIA_ROOT}},
    }
    with capture_logs() as logs:
        assert expired_images_purge() == (0, False)
    assert any(entry["event"] == "purge_images_skipped" for entry in logs)
    assert default_storage.exists(name)


def test_a_finished_job_past_its_retention_is_deleted_with_every_file_it_stored(org):
    job = job_finished(org, days_ago=31)
    directory = job_directory(organization_id=org.pk, job_id=job.id.hex)
    leftover = store_bytes(f"{directory}result-of-a-superseded-attempt.bin", b"x")
    names = [job.input_name, job.result_name, leftover]
    assert expired_jobs_purge() == (1, 3, False)
    assert not Job.objects.filter(id=job.id).exists()
    assert not any(default_storage.exists(name) for name in names)
    assert not os.path.exists(default_storage.path(directory))


def test_a_file_already_gone_is_not_counted_as_deleted(org):
    job = job_finished(org, days_ago=31)
    os.remove(default_storage.path(job.input_name))  # e.g. removed by hand: the job still names it
    assert expired_jobs_purge() == (1, 1, False)
    assert not default_storage.exists(job.result_name)


def test_a_job_naming_a_file_outside_its_folder_counts_it_only_if_it_was_there(org):
    job = job_finished(org, days_ago=31)
    elsewhere = store_bytes("legacy/input.bin", b"audio")
    Job.objects.filter(id=job.id).update(input_name=elsewhere, result_name="legacy/gone.png")
    # The two files in its folder and the input elsewhere; not the result it names but nobody stored.
    assert expired_jobs_purge() == (1, 3, False)
    assert not default_storage.exists(elsewhere)


def test_the_jobs_folder_goes_with_it_and_the_organisations_folder_stays_for_jobs_being_stored(org):
    old, recent = job_finished(org, days_ago=31), job_finished(org, days_ago=1)
    organisation_folder = Path(default_storage.path(f"jobs/{org.pk}"))
    assert expired_jobs_purge() == (1, 2, False)
    assert not Path(default_storage.path(job_directory(organization_id=org.pk, job_id=old.id.hex))).exists()
    Job.objects.filter(id=recent.id).update(finished_at=timezone.now() - timedelta(days=31))
    assert expired_jobs_purge() == (1, 2, False)
    # Empty now, and kept: a job of the organisation storing its file at this moment needs it.
    assert organisation_folder.is_dir() and not any(organisation_folder.iterdir())


def test_a_storage_without_folders_purges_jobs_without_touching_paths(org, settings):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
    job = job_finished(org, days_ago=31)
    assert not isinstance(default_storage, FileSystemStorage)
    assert expired_jobs_purge() == (1, 2, False)
    assert not default_storage.exists(job.input_name) and not default_storage.exists(job.result_name)


@pytest.mark.parametrize("status", [JobStatus.FAILED, JobStatus.CANCELLED])
def test_failed_and_cancelled_jobs_are_purged_too(org, status):
    job = job_finished(org, days_ago=31)
    Job.objects.filter(id=job.id).update(status=status)
    assert expired_jobs_purge()[0] == 1
    assert not Job.objects.filter(id=job.id).exists()


def test_a_job_within_its_retention_is_kept_with_its_files(org):
    job = job_finished(org, days_ago=29)
    assert expired_jobs_purge() == (0, 0, False)
    assert Job.objects.filter(id=job.id).exists()
    assert default_storage.exists(job.result_name) and default_storage.exists(job.input_name)


def test_the_retention_setting_decides_which_jobs_go(org, settings):
    job = job_finished(org, days_ago=8)
    settings.JOBS_RETENTION_DAYS = 7
    assert expired_jobs_purge()[0] == 1
    assert not Job.objects.filter(id=job.id).exists()


@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.RUNNING])
def test_an_unfinished_job_is_never_purged_however_old(org, status):
    job = job_finished(org, days_ago=90)
    Job.objects.filter(id=job.id).update(status=status, created_at=timezone.now() - timedelta(days=90))
    assert expired_jobs_purge() == (0, 0, False)
    assert default_storage.exists(job.result_name)


def test_one_run_deletes_at_most_its_limit_of_jobs_oldest_first(org):
    oldest, older, old = (job_finished(org, days_ago=days) for days in (60, 50, 40))
    assert expired_jobs_purge(limit=2) == (2, 4, True)
    assert list(Job.objects.values_list("id", flat=True)) == [old.id]
    assert not default_storage.exists(oldest.result_name) and not default_storage.exists(older.result_name)


def test_a_run_purges_both_and_logs_counts_without_names(org):
    image_stored(age_seconds=10 * LINK_SECONDS)
    job = job_finished(org, days_ago=31)
    with capture_logs() as logs:
        outcome = expired_files_purge()
    assert (outcome.images, outcome.jobs, outcome.job_files, outcome.more) == (1, 1, 2, False)
    [entry] = [entry for entry in logs if entry["event"] == "files_purged"]
    assert (entry["images"], entry["jobs"], entry["job_files"]) == (1, 1, 2)
    assert str(job.id) not in str(entry) and job.id.hex not in str(entry)


def test_a_run_stopped_at_a_bound_asks_for_another(org, monkeypatch):
    monkeypatch.setattr(purge_module, "MAX_JOBS", 1)
    job_finished(org, days_ago=31)
    job_finished(org, days_ago=32)
    assert expired_files_purge().more is True
    assert expired_files_purge().more is True  # the limit reached again: it cannot know none is left
    assert expired_files_purge().more is False


def test_a_file_another_run_deleted_meanwhile_is_skipped_and_the_run_goes_on(settings):
    names = [image_stored(age_seconds=10 * LINK_SECONDS) for _ in range(3)]
    RacedStorage.asked = 0
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{__name__}.RacedStorage", "OPTIONS": {"location": settings.MEDIA_ROOT}},
    }
    assert expired_images_purge() == (2, False)
    assert sum(default_storage.exists(name) for name in names) == 1  # the "raced" one, left for the next run
