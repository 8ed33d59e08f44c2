"""Deleting a job's result: the stored file goes too, the job stays, the deletion is audited, role-checked and
published to the organisation's open pages."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.core.files.storage import default_storage
from django.db import transaction

from accounts.exceptions import PermissionDenied
from accounts.models import AuditEvent
from jobs.events import organization_group
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


def test_the_deletion_is_published_to_the_organisations_open_pages_once_committed(org):
    job = finished_job_create_for_tests(organization=org)
    other = organization_create_for_tests(slug="globex")

    def delete_in_a_transaction(ours: str) -> dict | None:
        with transaction.atomic():
            job_result_delete(job=job, actor=None)
            return async_to_sync(_receive_within)(ours, 0.2)  # not before the commit

    async def scenario() -> None:
        async with _listening(org.pk) as ours, _listening(other.pk) as theirs:
            assert await sync_to_async(delete_in_a_transaction)(ours) is None
            message = await _receive_within(ours, 5)
            assert message["type"] == "job.event" and message["event"] == "job.result_deleted"
            assert message["job"]["id"] == str(job.id) and message["job"]["status"] == "succeeded"
            assert await _receive_within(theirs, 0.2) is None

    async_to_sync(scenario)()


def test_a_refused_deletion_publishes_nothing(org):
    job = finished_job_create_for_tests(organization=org)
    viewer = member_create_for_tests(organization=org, role="viewer")

    async def scenario() -> None:
        async with _listening(org.pk) as ours:
            with pytest.raises(PermissionDenied):
                await sync_to_async(job_result_delete)(job=job, actor=viewer)
            assert await _receive_within(ours, 0.3) is None

    async_to_sync(scenario)()


@contextlib.asynccontextmanager
async def _listening(organization_id: int):
    """A channel in the organisation's group, as an open dashboard page's WebSocket has."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(organization_group(organization_id), channel)
    try:
        yield channel
    finally:
        await layer.group_discard(organization_group(organization_id), channel)


async def _receive_within(channel: str, seconds: float) -> dict | None:
    try:
        return await asyncio.wait_for(get_channel_layer().receive(channel), seconds)
    except TimeoutError:
        return None
