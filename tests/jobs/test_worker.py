"""Jobs run by real ``db_worker`` processes on PostgreSQL, with live events over the Redis channel layer."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult
from standardwebhooks import Webhook

from jobs import queue
from jobs.models import Job
from tests.conftest import require_env
from tests.jobs.conftest import communicator, usage_lines, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

IMAGE = {"kind": "image", "request": {"prompt": "a lighthouse", "size": "256x256"}}


async def job_status(job_id: str) -> str:
    return (await Job.objects.aget(id=job_id)).status


async def until(predicate, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.05)


async def test_an_image_job_is_watched_live_delivered_by_webhook_and_downloaded(
    client, api_key, start_worker, receiver, tmp_path
):
    require_env("REDIS_URL")
    start_worker()
    socket = communicator(f"/ws/jobs/?api_key={api_key}")
    connected, _ = await socket.connect()
    assert connected and (await socket.receive_json_from(timeout=5))["type"] == "snapshot"

    response = await client.post("/v1/jobs", json={**IMAGE, "webhook": {"url": receiver.url}})
    assert response.status_code == 202
    job_id, secret = response.json()["id"], response.json()["webhook_secret"]

    seen = []
    while not seen or seen[-1] not in ("job.succeeded", "job.failed"):
        message = await socket.receive_json_from(timeout=20)
        assert message["job"]["id"] == job_id
        seen.append(message["type"])
    await socket.disconnect()
    statuses = [s for s in seen if s != "job.progress"]
    assert statuses == ["job.queued", "job.running", "job.succeeded"]
    assert "job.progress" in seen

    headers, body, _ = await sync_to_async(wait_for)(lambda: receiver.requests and receiver.requests[0])
    event = Webhook(secret).verify(body, headers)
    assert event["type"] == "job.succeeded" and event["data"]["id"] == job_id

    image = await client.get(event["data"]["result"]["url"], headers={"Authorization": ""})
    assert image.status_code == 200 and image.content[:2] == b"\xff\xd8"
    assert usage_lines(tmp_path) == [f"job-{job_id} 200"]


async def test_a_worker_killed_mid_job_is_replaced_and_the_job_finishes_once_charged_once(
    client, start_worker, tmp_path
):
    stalled = start_worker(stall=True)
    job_id = (await client.post("/v1/jobs", json=IMAGE)).json()["id"]
    await until(lambda: sync_to_async((tmp_path / "stalled").exists)())
    os.killpg(stalled.pid, signal.SIGKILL)
    stalled.wait(10)

    start_worker()  # the reaper in the new worker hands the job to a new attempt after the lease expires
    await until(lambda: _is(job_id, "succeeded"), timeout=40)
    job = await Job.objects.aget(id=job_id)
    assert job.attempt == 2 and job.charged_at is not None
    assert usage_lines(tmp_path) == [f"job-{job_id} 200"]


async def _is(job_id: str, status: str) -> bool:
    return await job_status(job_id) == status


async def test_a_running_job_is_cancelled_and_its_worker_stops(client, start_worker, tmp_path, upstream):
    start_worker()
    slow = {**IMAGE, "request": {**IMAGE["request"], "prompt": "slow"}}
    job_id = (await client.post("/v1/jobs", json=slow, headers={"X-Sim-Fault": "latency=5s"})).json()["id"]
    await until(lambda: _is(job_id, "running"))
    response = await client.delete(f"/v1/jobs/{job_id}")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    await asyncio.sleep(2)
    job = await Job.objects.aget(id=job_id)
    assert job.status == "cancelled" and not job.result_name and job.charged_at is None
    assert usage_lines(tmp_path) == []


async def test_an_upstream_failure_is_retried_with_backoff_then_fails_at_the_maximum(
    client, start_worker, job_settings, tmp_path
):
    job_settings.JOBS_MAX_ATTEMPTS = 2
    start_worker()
    response = await client.post("/v1/jobs", json=IMAGE, headers={"X-Sim-Fault": "status=500"})
    job_id = response.json()["id"]
    await until(lambda: _is(job_id, "failed"), timeout=30)
    job = await Job.objects.aget(id=job_id)
    assert job.attempt == 2 and job.error["type"] == "upstream_error"
    assert (job.finished_at - job.created_at).total_seconds() >= 2  # the backoff before attempt 2
    assert usage_lines(tmp_path) == []


async def test_a_job_whose_request_plugin_crashes_fails_closed_and_nothing_is_sent(
    client, start_worker, upstream, tmp_path
):
    start_worker(extra={"MCP_TEST_BROKEN_GUARD": "1"})
    upstream.delete("/_sim/requests")
    job_id = (await client.post("/v1/jobs", json=IMAGE)).json()["id"]
    await until(lambda: _is(job_id, "failed"), timeout=30)
    job = await Job.objects.aget(id=job_id)
    # The same rule as a synchronous request: a guardrail that cannot decide refuses, and says no more.
    assert job.error["code"] == "plugin_error" and "guardrail" not in str(job.error)
    assert upstream.get("/_sim/requests").json()["requests"] == []


async def test_a_job_over_its_keys_rate_limit_is_deferred_by_the_worker_not_failed(
    client, amake_key, start_worker, tmp_path
):
    limited = {"Authorization": f"Bearer {await amake_key(limits={'requests_per_minute': 1})}"}
    first = (await client.post("/v1/jobs", json=IMAGE, headers=limited)).json()["id"]
    second = (await client.post("/v1/jobs", json=IMAGE, headers=limited)).json()["id"]
    start_worker()

    async def deferred() -> bool:
        job = await Job.objects.aget(id=second)
        return job.status == "queued" and (job.error or {}).get("code") == "rate_limit_exceeded"

    await until(lambda: _is(first, "succeeded"))
    await until(deferred)
    job = await Job.objects.aget(id=second)
    assert job.attempt == 1 and (job.run_after - job.updated_at).total_seconds() >= 1
    assert usage_lines(tmp_path) == [f"job-{first} 200"]


async def test_a_job_whose_worker_died_is_retried_even_after_a_kill_mid_sweep_ended_the_reaper_chain(
    client, start_worker, job_settings, tmp_path
):
    stalled = start_worker(stall=True)
    job_id = (await client.post("/v1/jobs", json=IMAGE)).json()["id"]
    await until(lambda: sync_to_async((tmp_path / "stalled").exists)())
    os.killpg(stalled.pid, signal.SIGKILL)
    stalled.wait(10)
    # The chain's only entry is a sweep a killed worker had claimed; no job is submitted after it.
    await sync_to_async(_reaper_chain_ended_by_a_kill)(job_settings.JOBS_LEASE_SECONDS)

    start_worker()  # its watchdog mends the chain; the sweep then hands the job to a new attempt
    await until(lambda: _is(job_id, "succeeded"), timeout=40)
    job = await Job.objects.aget(id=job_id)
    assert job.attempt == 2 and job.charged_at is not None
    assert usage_lines(tmp_path) == [f"job-{job_id} 200"]


def _reaper_chain_ended_by_a_kill(lease_seconds: float) -> None:
    sweeps = DBTaskResult.objects.filter(task_path=queue.JOB_REAP)
    sweeps.exclude(status=TaskResultStatus.RUNNING).delete()
    entry = DBTaskResult.objects.get(id=queue.enqueue(queue.JOB_REAP, priority=queue.REAP_PRIORITY))
    entry.claim("worker-killed-mid-sweep")
    started = timezone.now() - timedelta(seconds=queue.reaper_presumed_dead_after(lease_seconds) + 1)
    sweeps.filter(status=TaskResultStatus.RUNNING).update(started_at=started)
