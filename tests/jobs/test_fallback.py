"""Live updates without Redis: with the in-memory channel layer, a WebSocket client still gets the
changes other processes make, polled from the database while it is connected, each exactly once."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer
from django.utils import timezone

from accounts.services import api_key_create, organization_create
from jobs import fallback, selectors
from jobs.models import Job
from jobs.services import job_create
from tests.conftest import require_env
from tests.jobs.conftest import communicator

pytestmark = pytest.mark.django_db(transaction=True)

IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture
def in_memory_layer(job_settings, monkeypatch):
    job_settings.CHANNEL_LAYERS = IN_MEMORY  # even when REDIS_URL is set: this is the embedded mode
    monkeypatch.setattr(fallback, "POLL_INTERVAL_SECONDS", 0.1)
    return job_settings


def _changed_elsewhere(job_id, **fields) -> Callable[[], int]:
    """A write another process (the worker) would make: the row changes, nothing is published here."""
    return sync_to_async(Job.objects.filter(id=job_id).update)(updated_at=timezone.now(), **fields)


async def _connected(api_key: str):
    socket = communicator(f"/ws/jobs/?api_key={api_key}")
    assert (await socket.connect())[0]
    assert (await socket.receive_json_from(timeout=5))["type"] == "snapshot"
    return socket


def test_only_an_in_process_layer_needs_the_database_poll():
    assert fallback.layer_is_in_process(InMemoryChannelLayer())
    assert fallback.layer_is_in_process(None)
    assert not fallback.layer_is_in_process(RedisChannelLayer(hosts=["redis://127.0.0.1:6379/10"]))


async def test_changes_made_by_another_process_reach_the_client_in_order(in_memory_layer, organization, api_key):
    socket = await _connected(api_key)
    job = await Job.objects.acreate(organization=organization, kind="image", model="flux")  # no event published
    assert (await socket.receive_json_from(timeout=3))["type"] == "job.queued"
    await _changed_elsewhere(job.id, status="running", started_at=timezone.now())
    assert (await socket.receive_json_from(timeout=3))["type"] == "job.running"
    await _changed_elsewhere(job.id, progress=40)
    progress = await socket.receive_json_from(timeout=3)
    assert (progress["type"], progress["job"]["progress"]) == ("job.progress", 40)
    await _changed_elsewhere(job.id, status="succeeded", progress=100, finished_at=timezone.now())
    done = await socket.receive_json_from(timeout=3)
    assert (done["type"], done["job"]["id"], done["job"]["status"]) == ("job.succeeded", str(job.id), "succeeded")
    assert await socket.receive_nothing(timeout=0.5)  # several polls later: nothing repeated
    await socket.disconnect()


async def test_a_change_published_in_this_process_is_not_sent_twice(in_memory_layer, organization, api_key):
    socket = await _connected(api_key)
    job = await sync_to_async(job_create)(
        organization_id=organization.id, key_id=None, user_id=None, kind="image", model="flux", params={"prompt": "x"}
    )
    first = await socket.receive_json_from(timeout=3)
    assert (first["type"], first["job"]["id"]) == ("job.queued", str(job[0].id))
    assert await socket.receive_nothing(timeout=0.5)
    await socket.disconnect()


async def test_another_organisations_changes_are_never_polled_to_the_client(in_memory_layer, organization, api_key):
    def other_org_key():
        other = organization_create(name="Other", slug="other")
        return other, api_key_create(organization=other, name="k", scopes=("image",))[1]

    other, _ = await sync_to_async(other_org_key)()
    socket = await _connected(api_key)
    await Job.objects.acreate(organization=other, kind="image", model="flux")
    assert await socket.receive_nothing(timeout=0.5)
    await socket.disconnect()


async def test_the_poll_stops_when_the_client_disconnects(in_memory_layer, organization, api_key, monkeypatch):
    calls = []
    original = selectors.job_changes

    async def counting(**kwargs):
        calls.append(kwargs)
        return await original(**kwargs)

    monkeypatch.setattr(selectors, "job_changes", counting)
    socket = await _connected(api_key)
    assert await socket.receive_nothing(timeout=0.35)
    assert calls and calls[0]["organization_id"] == organization.id
    await socket.disconnect()
    stopped_at = len(calls)
    assert await socket.receive_nothing(timeout=0.35)
    assert len(calls) == stopped_at


async def test_with_the_redis_layer_nothing_is_polled(job_settings, api_key, monkeypatch):
    redis_url = require_env("REDIS_URL")
    job_settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [redis_url]}}
    }
    polled = []
    monkeypatch.setattr(fallback, "poll_changes", lambda **kwargs: polled.append(kwargs))
    socket = await _connected(api_key)
    await socket.disconnect()
    assert polled == []


@pytest.mark.slow
async def test_a_job_run_by_a_separate_worker_is_watched_live_without_redis(
    in_memory_layer, client, api_key, start_worker
):
    start_worker()
    socket = await _connected(api_key)
    # The generation takes 1.5 s, so "running" outlasts a poll (a shorter state may be skipped: the poll sends
    # each job's state as it is when it looks; the final state always arrives).
    response = await client.post(
        "/v1/jobs",
        json={"kind": "image", "request": {"prompt": "a lighthouse"}},
        headers={"X-Sim-Fault": "latency=1500ms"},
    )
    job_id = response.json()["id"]
    seen = []
    while not seen or seen[-1] not in ("job.succeeded", "job.failed"):
        message = await socket.receive_json_from(timeout=20)
        assert message["job"]["id"] == job_id
        seen.append(message["type"])
    await socket.disconnect()
    assert [s for s in seen if s != "job.progress"] == ["job.queued", "job.running", "job.succeeded"]
