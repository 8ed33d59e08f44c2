"""/ws/jobs/: authentication, the first snapshot, and organisation isolation (Redis layer when REDIS_URL is set)."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from accounts.services import api_key_create, membership_add, organization_create
from jobs.services import job_cancel, job_create
from tests.jobs.conftest import communicator

pytestmark = pytest.mark.django_db(transaction=True)


def _job(organization_id: int):
    return job_create(organization_id=organization_id, key_id=None, user_id=None, kind="image", model="flux",
                      params={"prompt": "x"})[0]  # fmt: skip


async def test_a_connection_without_credentials_is_closed_as_unauthenticated(job_settings):
    socket = communicator("/ws/jobs/")
    await socket.connect()
    assert (await socket.receive_output(timeout=5))["code"] == 4401


async def test_each_organisation_receives_only_its_own_jobs_events(job_settings, organization, api_key):
    def other_org():
        other = organization_create(name="Other", slug="other")
        return other, api_key_create(organization=other, name="k", scopes=("image",))[1]

    other, other_key = await sync_to_async(other_org)()
    ours, theirs = communicator(f"/ws/jobs/?api_key={api_key}"), communicator(f"/ws/jobs/?api_key={other_key}")
    for socket in (ours, theirs):
        assert (await socket.connect())[0]
        assert (await socket.receive_json_from(timeout=5)) == {"type": "snapshot", "jobs": []}

    job = await sync_to_async(_job)(organization.id)
    event = await ours.receive_json_from(timeout=5)
    assert event["type"] == "job.queued" and event["job"]["id"] == str(job.id)
    await sync_to_async(job_cancel)(job=job)
    assert (await ours.receive_json_from(timeout=5))["type"] == "job.cancelled"
    assert await theirs.receive_nothing(timeout=0.5)
    await theirs.send_json_to({"type": "subscribe", "job": str(job.id)})
    assert (await theirs.receive_json_from(timeout=5))["code"] == "job_not_found"
    await ours.disconnect()
    await theirs.disconnect()
    assert other.id != organization.id


async def test_a_reconnecting_member_first_gets_the_current_state_with_a_jwt(job_settings, organization):
    def member_token():
        user = User.objects.create_user(email="ada@example.com", password="x" * 12)
        membership_add(organization=organization, user=user, role="viewer")
        return str(AccessToken.for_user(user))

    token = await sync_to_async(member_token)()
    job = await sync_to_async(_job)(organization.id)
    socket = communicator(f"/ws/jobs/?token={token}&org=acme")
    assert (await socket.connect())[0]
    snapshot = await socket.receive_json_from(timeout=5)
    assert [j["id"] for j in snapshot["jobs"]] == [str(job.id)] and snapshot["jobs"][0]["status"] == "queued"
    await socket.disconnect()
    refused = communicator(f"/ws/jobs/?token={token}&org=other")
    await refused.connect()
    assert (await refused.receive_output(timeout=5))["code"] == 4403
