"""Deleting a job's result: the stored file goes too, the job stays, the deletion is audited and role-checked."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage

from accounts.exceptions import PermissionDenied
from accounts.models import AuditEvent
from jobs.exceptions import JobResultNotFound
from jobs.selectors import job_result_get, job_result_list
from jobs.services import job_result_delete
from tests.accounts.factories import member_create_for_tests, organization_create_for_tests
from tests.jobs.factories import finished_job_create_for_tests

pytestmark = pytest.mark.django_db(transaction=True)  # the file goes after the commit


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture
def org():
    return organization_create_for_tests(slug="acme")


def test_deleting_a_result_removes_its_file_and_keeps_the_job(org):
    job = finished_job_create_for_tests(organization=org)
    name = job.result_name
    developer = member_create_for_tests(organization=org, role="developer")
    job_result_delete(job=job, actor=developer, ip="203.0.113.9")
    job.refresh_from_db()
    assert job.status == "succeeded" and job.result_name == "" and job.result_bytes is None
    assert not default_storage.exists(name)
    assert not job_result_list(organization_id=org.pk).exists()
    with pytest.raises(JobResultNotFound):
        job_result_get(organization_id=org.pk, job_id=str(job.id))


def test_the_deletion_is_in_the_audit_log(org):
    job = finished_job_create_for_tests(organization=org)
    owner = member_create_for_tests(organization=org, role="owner")
    job_result_delete(job=job, actor=owner, ip="203.0.113.9")
    event = AuditEvent.objects.get(action="result_deleted")
    assert event.organization == org and event.actor == owner and event.target == f"job:{job.id}"
    assert event.ip_address == "203.0.113.9" and event.detail["kind"] == "image"


def test_a_viewer_may_not_delete_a_result(org):
    job = finished_job_create_for_tests(organization=org)
    with pytest.raises(PermissionDenied):
        job_result_delete(job=job, actor=member_create_for_tests(organization=org, role="viewer"))
    assert default_storage.exists(job.result_name)
    assert not AuditEvent.objects.filter(action="result_deleted").exists()


def test_a_result_cannot_be_deleted_twice(org):
    job = finished_job_create_for_tests(organization=org)
    job_result_delete(job=job, actor=None)
    with pytest.raises(JobResultNotFound):
        job_result_delete(job=job, actor=None)


def test_another_organisations_result_is_not_found(org):
    foreign = finished_job_create_for_tests(organization=organization_create_for_tests(slug="globex"))
    with pytest.raises(JobResultNotFound):
        job_result_get(organization_id=org.pk, job_id=str(foreign.id))
