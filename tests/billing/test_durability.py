"""The ledger survives killed processes: nothing lost, nothing counted twice."""

from __future__ import annotations

import asyncio
import json
import os
import signal

import httpx
import pytest
import redis
import redis.asyncio
from asgiref.sync import sync_to_async
from django.db import connection

from accounts.services import api_key_create, organization_create
from billing import hotpath, ledger
from billing._stores import HOLDS_KEY, LEDGER_STREAM, credit_key
from billing.models import CreditAccount, Plan, Price, UsageEvent
from billing.services import credits_grant, holds_reconcile, subscription_create, usage_events_insert
from tests.billing.conftest import CHAT, ledger_events
from tests.conftest import require_env, run_django
from tests.fixtures.gateway_server import gateway_env, run_gateway

IMAGE = {"model": "flux", "prompt": "a lighthouse"}


def _event(request_id: str, organization_id: int, cost: int = 5) -> dict:
    return {
        "request_id": request_id,
        "client_request_id": "c",
        "created_at": 1_700_000_000.0,
        "organization_id": organization_id,
        "key_id": None,
        "user_id": None,
        "provider": "p",
        "model": "m",
        "operation": "chat",
        "modality": "text",
        "input_tokens": 1,
        "output_tokens": 1,
        "images": 0,
        "audio_seconds": 0.0,
        "characters": 0,
        "usage_source": "upstream",
        "cost": cost,
        "status": 200,
        "latency_ms": 3,
        "cache_hit": False,
    }


def test_the_same_request_id_recorded_twice_is_one_event(organization):
    CreditAccount.objects.create(organization=organization)
    assert usage_events_insert(events=[_event("r1", organization.pk)]) == 1
    assert usage_events_insert(events=[_event("r1", organization.pk), _event("r2", organization.pk)]) == 1
    assert UsageEvent.objects.count() == 2
    assert CreditAccount.objects.get(organization=organization).balance == -10


def test_ledger_events_cannot_be_changed_or_deleted(organization):
    usage_events_insert(events=[_event("r1", organization.pk)])
    event = UsageEvent.objects.get()
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()


@pytest.mark.redis
async def test_a_flusher_killed_after_inserting_and_before_acknowledging_counts_nothing_twice(
    client, settings, organization
):
    require_env("REDIS_URL")
    require_env("DATABASE_URL")
    settings.BILLING_LEDGER_FLUSH_SECONDS = 3600  # this process's own flusher stays out of the way
    await sync_to_async(CreditAccount.objects.create)(organization=organization)
    for _ in range(5):
        assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200
    await hotpath.drain()
    doomed = run_django(
        "import asyncio, os, signal, redis.asyncio\n"
        "from billing import ledger\n"
        "async def main():\n"
        "    r = redis.asyncio.Redis.from_url(os.environ['REDIS_URL'])\n"
        "    entries = await ledger.read_pending_without_ack(r, consumer='doomed')\n"
        "    print(len(entries), await ledger.insert_entries(entries), flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "asyncio.run(main())\n",
        env=gateway_env(database_name=connection.settings_dict["NAME"], upstream_url="http://127.0.0.1:9"),
    )
    assert doomed.returncode == -signal.SIGKILL, doomed.stderr[-2000:]
    assert doomed.stdout.split() == ["5", "5"]
    assert len(await ledger_events()) == 5
    # Another flusher claims the dead one's pending entries and inserts them again: no-ops.
    store = hotpath.redis_store()
    redis_client = store.client()
    assert await ledger.flush_stream(redis_client, claim_idle_ms=0) == 5
    events = await ledger_events()
    assert len(events) == len({e.request_id for e in events}) == 5
    assert (await redis_client.xpending(LEDGER_STREAM, ledger.GROUP))["pending"] == 0
    account = await sync_to_async(CreditAccount.objects.get)(organization=organization)
    assert account.balance == -sum(e.cost for e in events)


def _prepaid_org():
    organization = organization_create(name="Dies", slug="dies")
    _, key = api_key_create(organization=organization, name="k", scopes=("image", "text"))
    Price.objects.create(model="flux", per_image=1_000_000)
    plan = Plan.objects.create(slug="pre", name="Pre", concurrent_requests=20)
    subscription_create(organization=organization, plan=plan)
    credits_grant(organization=organization, amount=100_000_000, reason="top-up")
    return organization, key


@pytest.mark.slow
async def test_a_gateway_killed_mid_flight_loses_no_event_and_counts_none_twice(transactional_db, upstream_url):
    require_env("REDIS_URL")
    require_env("DATABASE_URL")
    organization, key = await sync_to_async(_prepaid_org)()
    env = gateway_env(
        database_name=connection.settings_dict["NAME"], upstream_url=upstream_url, BILLING_LEDGER_FLUSH_MS="3600000"
    )
    auth = {"Authorization": f"Bearer {key}"}
    with run_gateway(env) as url:
        process = run_gateway.processes[url]
        async with httpx.AsyncClient(base_url=url, headers=auth, timeout=30) as http:
            done = [await http.post("/v1/images/generations", json=IMAGE) for _ in range(10)]
            assert {a.status_code for a in done} == {200}
            slow = {"X-Sim-Fault": "latency=10s"}
            in_flight = [
                asyncio.ensure_future(http.post("/v1/images/generations", json=IMAGE, headers=slow)) for _ in range(5)
            ]
            await asyncio.sleep(1.5)
            os.killpg(process.pid, signal.SIGKILL)
            results = await asyncio.gather(*in_flight, return_exceptions=True)
    assert all(isinstance(r, httpx.TransportError) for r in results)

    store = hotpath.redis_store()
    redis_client = store.client()
    for _ in range(2):  # running the jobs twice changes nothing the second time
        await ledger.flush_stream(redis_client, claim_idle_ms=0)
        await sync_to_async(holds_reconcile)(older_than=0)
    events = await ledger_events(organization_id=organization.pk)
    assert len(events) == len({e.request_id for e in events}) == 15
    completed = {e.client_request_id for e in events if e.status == 200}
    assert completed == {a.headers["x-request-id"] for a in done}
    assert [e.status for e in events].count(0) == 5  # the five in flight, settled at their reservation
    reconciled = [e for e in events if e.status == 0]
    # Reconciled rows keep who asked and how to find the request in the client's logs.
    assert all(e.key_id is not None and e.client_request_id and e.model == "flux" for e in reconciled)
    sync = redis.Redis.from_url(os.environ["REDIS_URL"])
    assert sync.hlen(HOLDS_KEY) == 0
    spent = sum(e.cost for e in events)
    assert int(sync.hget(credit_key(organization.pk), "used")) == spent == 15_000_000
    assert int(sync.hget(credit_key(organization.pk), "held")) == 0
    assert sync.zcard(f"mcp:bill:conc:org:{organization.pk}:concurrent:900") == 0  # the dead process's slots
    account = await sync_to_async(CreditAccount.objects.get)(organization=organization)
    assert account.balance == 100_000_000 - spent


class _CountingClient:
    """The real client, noting how many entries each stream command asked for or named."""

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self._client = client
        self.sizes: list[int] = []

    async def xreadgroup(self, *args, count: int, **kwargs):
        self.sizes.append(count)
        return await self._client.xreadgroup(*args, count=count, **kwargs)

    async def xautoclaim(self, *args, count: int, **kwargs):
        self.sizes.append(count)
        return await self._client.xautoclaim(*args, count=count, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._client, name)


@pytest.fixture
async def small_batches(monkeypatch, organization) -> redis.asyncio.Redis:
    """Slices of 4 and batches of 10, an organisation with a credit account; the store's Redis client."""
    require_env("REDIS_URL")
    require_env("DATABASE_URL")
    monkeypatch.setattr(ledger, "SLICE", 4)
    monkeypatch.setattr(ledger, "BATCH", 10)
    await sync_to_async(CreditAccount.objects.create)(organization=organization)
    return hotpath.redis_store().client()


@pytest.mark.redis
async def test_the_writer_moves_a_large_outbox_in_short_redis_commands_and_reclaims_a_dead_flusher_s(
    small_batches, organization
):
    """Redis serves one command at a time: a writer's read of a whole batch held up every request's
    admission behind it, so it reads, claims and acknowledges a slice at a time."""
    redis_client = small_batches
    for i in range(23):
        await redis_client.xadd(LEDGER_STREAM, {"e": json.dumps(_event(f"big-{i}", organization.pk, cost=1))})
    # A flusher that read the first batch and died before inserting it: its entries stay pending.
    dead = await ledger.read_pending_without_ack(redis_client, consumer="dead")
    assert len(dead) == 10

    counting = _CountingClient(redis_client)
    assert await ledger.flush_stream(counting, claim_idle_ms=0) == 23
    assert max(counting.sizes) == 4
    assert sorted(e.request_id for e in await ledger_events()) == sorted(f"big-{i}" for i in range(23))
    assert await redis_client.xlen(LEDGER_STREAM) == 0
    assert (await redis_client.xpending(LEDGER_STREAM, ledger.GROUP))["pending"] == 0
    account = await sync_to_async(CreditAccount.objects.get)(organization=organization)
    assert account.balance == -23


class _BusyOutbox(_CountingClient):
    """The real client, with one more event appended to the outbox after each read, as under steady load."""

    def __init__(self, client: redis.asyncio.Redis, organization_id: int, arrivals: int) -> None:
        super().__init__(client)
        self._organization_id = organization_id
        self.arrivals = arrivals

    async def xreadgroup(self, *args, count: int, **kwargs):
        reply = await super().xreadgroup(*args, count=count, **kwargs)
        if self.arrivals:
            self.arrivals -= 1
            event = _event(f"later-{self.arrivals}", self._organization_id, cost=1)
            await self._client.xadd(LEDGER_STREAM, {"e": json.dumps(event)})
        return reply


@pytest.mark.redis
async def test_a_writer_pass_that_has_caught_up_leaves_new_arrivals_to_the_next_pass(small_batches, organization):
    """Chasing every event that arrives during a pass costs a transaction for a handful of events each."""
    redis_client = small_batches
    for i in range(5):
        await redis_client.xadd(LEDGER_STREAM, {"e": json.dumps(_event(f"now-{i}", organization.pk, cost=1))})

    busy = _BusyOutbox(redis_client, organization.pk, arrivals=30)
    first = await ledger.flush_stream(busy, claim_idle_ms=0)
    assert 5 <= first < 10
    assert await redis_client.xlen(LEDGER_STREAM) > 0
    arrived, busy.arrivals = 30 - busy.arrivals, 0
    rest = 0
    while await redis_client.xlen(LEDGER_STREAM):
        rest += await ledger.flush_stream(redis_client, claim_idle_ms=0)
    assert first + rest == 5 + arrived == len(await ledger_events())
