"""Jobs go through the same limits, credits and ledger as synchronous calls (attempts run in-process;
embedded billing stores, or Redis with ``REDIS_URL``)."""

from __future__ import annotations

import asyncio

import pytest
import redis
from asgiref.sync import sync_to_async
from django.conf import settings

from billing import hotpath
from billing._stores import HOLDS_KEY
from billing.models import CreditAccount, Price
from jobs import services
from jobs.execution import job_execute
from jobs.models import Job
from tests.billing.conftest import _clean_billing_state, ledger_events, settle_and_flush  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True)

IMAGE = {"kind": "image", "request": {"prompt": "a red bicycle", "model": "flux", "size": "256x256"}}
PRICE = 1_000_000


async def submit(client, *, api_key: str | None = None, headers: dict | None = None) -> str:
    auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    response = await client.post("/v1/jobs", json=IMAGE, headers={**auth, **(headers or {})})
    assert response.status_code == 202
    return response.json()["id"]


async def run_next_attempt(job_id: str) -> str:
    job = await Job.objects.aget(id=job_id)
    return await job_execute(job_id=job_id, attempt=job.attempt, worker_id="test")


def held() -> int:
    """Reservations and slots still held, in whichever store billing uses."""
    url = settings.CONFIG.redis_url
    if url:
        client = redis.Redis.from_url(url)
        try:
            return client.hlen(HOLDS_KEY)
        finally:
            client.close()
    return len(hotpath.local_store().holds)


async def priced_plan(make_plan, subscribe, **fields) -> None:
    await sync_to_async(Price.objects.create)(model="flux", per_image=PRICE)
    await sync_to_async(subscribe)(await sync_to_async(make_plan)(**fields))


async def test_a_successful_job_is_one_ledger_event_with_its_cost_and_holds_nothing(
    client, job_settings, make_plan, subscribe
):
    await priced_plan(make_plan, subscribe, overage_policy="bill")
    job_id = await submit(client)
    assert await run_next_attempt(job_id) == "succeeded"
    await settle_and_flush()
    job = await Job.objects.aget(id=job_id)
    events = await ledger_events()
    assert [(e.request_id, e.cost, e.status, e.images) for e in events] == [(job.request_id, PRICE, 200, 1)]
    assert held() == 0


async def test_a_key_over_its_rate_limit_gets_its_next_job_deferred_not_failed(
    client, job_settings, amake_key, make_plan, subscribe
):
    await priced_plan(make_plan, subscribe, overage_policy="bill")
    limited = await amake_key(limits={"requests_per_minute": 2})
    jobs = [await submit(client, api_key=limited) for _ in range(3)]
    assert [await run_next_attempt(job_id) for job_id in jobs] == ["succeeded", "succeeded", "deferred"]
    deferred = await Job.objects.aget(id=jobs[2])
    assert (deferred.status, deferred.attempt, deferred.error["code"]) == ("queued", 1, "rate_limit_exceeded")
    assert 1 <= (deferred.run_after - deferred.updated_at).total_seconds() <= 60
    await settle_and_flush()
    assert len(await ledger_events()) == 2 and held() == 0


async def test_a_job_refused_by_limits_for_longer_than_the_maximum_wait_fails(
    client, job_settings, amake_key, make_plan, subscribe
):
    job_settings.JOBS_RATE_LIMIT_MAX_WAIT_SECONDS = 0
    await priced_plan(make_plan, subscribe, overage_policy="bill")
    limited = await amake_key(limits={"requests_per_minute": 1})
    first, second = await submit(client, api_key=limited), await submit(client, api_key=limited)
    assert await run_next_attempt(first) == "succeeded"
    assert await run_next_attempt(second) == "deferred"
    job = await Job.objects.aget(id=second)
    assert (job.status, job.error["code"]) == ("failed", "rate_limit_exceeded")


async def test_a_job_without_credits_fails_with_insufficient_credits_and_charges_nothing(
    client, job_settings, make_plan, subscribe, organization
):
    await priced_plan(make_plan, subscribe, included_credits=0)
    job_id = await submit(client)
    assert await run_next_attempt(job_id) == "failed"
    job = await Job.objects.aget(id=job_id)
    assert (job.status, job.attempt, job.error["code"]) == ("failed", 1, "insufficient_credits")
    assert job.charged_at is None and not job.result_name
    await settle_and_flush()
    assert await ledger_events() == [] and held() == 0
    assert (await CreditAccount.objects.aget(organization=organization)).balance == 0


async def test_a_retried_job_releases_each_failed_attempt_and_is_charged_once(
    client, job_settings, make_plan, subscribe
):
    await priced_plan(make_plan, subscribe, overage_policy="bill")
    job_id = await submit(client, headers={"X-Sim-Fault": "status=500"})
    assert await run_next_attempt(job_id) == "failed"  # attempt 1 fails; attempt 2 is queued
    await Job.objects.filter(id=job_id).aupdate(forward_headers={}, run_after=None)
    assert await run_next_attempt(job_id) == "succeeded"
    await settle_and_flush()
    job = await Job.objects.aget(id=job_id)
    events = {e.request_id: (e.cost, e.status) for e in await ledger_events()}
    assert events[job.request_id] == (PRICE, 200)
    assert [cost for request_id, (cost, _) in events.items() if request_id != job.request_id] == [0]
    assert held() == 0


async def test_a_cancelled_running_job_releases_its_admission(client, job_settings, make_plan, subscribe):
    await priced_plan(make_plan, subscribe, overage_policy="bill")
    job_id = await submit(client, headers={"X-Sim-Fault": "latency=5s"})
    attempt = asyncio.ensure_future(run_next_attempt(job_id))
    async with asyncio.timeout(10):
        while (await Job.objects.aget(id=job_id)).progress < 10:
            await asyncio.sleep(0.05)
    await sync_to_async(services.job_cancel)(job=await Job.objects.aget(id=job_id))
    assert await asyncio.wait_for(attempt, 10) == "abandoned"
    await settle_and_flush()
    assert [e.cost for e in await ledger_events()] == [0] and held() == 0
