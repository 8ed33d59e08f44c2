"""The shared store's admission is safe to repeat, and a job's event loop leaves no connection behind."""

from __future__ import annotations

import asyncio
import threading

import redis

from billing._stores import HOLDS_KEY, RedisStore, credit_key
from billing.types import Admission, Rule
from tests.billing.conftest import STORE_DB


def admission(ledger_id: str) -> Admission:
    """A request with an estimate of 30 credits, holding one slot of a concurrency limit of one."""
    slot = Rule(kind="conc", scope="key:1", family="requests", limit=1, window=60)
    return Admission(
        ledger_id=ledger_id, organization_id=1, rules=(slot,), estimate=30, credit_enforced=True, provider="p"
    )


async def test_an_admission_run_twice_for_one_request_takes_its_slot_and_credits_once(store_url):
    store = RedisStore(store_url)
    await store.load_credits(1, 100)
    first = await store.admit(admission("once"))
    # As when a retried call's first try did reach Redis: the same request, admitted again.
    again = await store.admit(admission("once"))
    assert first.ok and again.ok
    assert first.conc == again.conc == [0]
    client = redis.Redis.from_url(store_url)
    assert int(client.hget(credit_key(1), "held")) == 30
    assert client.hlen(HOLDS_KEY) == 1
    # A different request still meets the limit the first one holds.
    other = await store.admit(admission("other"))
    assert not other.ok and other.kind == "conc"


def test_a_job_s_event_loop_leaves_no_redis_connection_open(store_url, monkeypatch):
    from billing import _stores
    from billing.hotpath import settle_pending

    store = RedisStore(store_url)
    monkeypatch.setattr(_stores, "_redis", store)
    client = redis.Redis.from_url(store_url)

    def connected() -> int:  # clients on the store's own database, so other tests' connections do not count
        return sum(1 for c in client.client_list() if c["db"] == str(STORE_DB))

    before = connected()

    async def job(n: int) -> None:
        request = admission(f"job-{n}")
        request.credit_enforced = False
        assert (await store.admit(request)).ok
        assert await store.settle(request, [], 0, "{}")
        await settle_pending()  # the worker's end of every job (jobs/execution.py)

    failures: list[BaseException] = []

    def run_jobs() -> None:  # as the worker does: each job on an event loop of its own
        try:
            for n in range(5):
                asyncio.run(job(n))
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    thread = threading.Thread(target=run_jobs)
    thread.start()
    thread.join()
    assert failures == []
    assert connected() <= before
    assert len(store._connections) == 0
