"""A settlement takes no Redis round trip of its own: it rides with the next admission, or goes alone soon after.

Against the real Redis of ``REDIS_URL`` (a database of its own); round trips are counted where
the store's connection (core/resp.py) writes to the socket.
"""

from __future__ import annotations

import asyncio

import pytest
import redis

from billing._stores import HOLDS_KEY, LEDGER_STREAM, SETTLE_RIDE_SECONDS, RedisStore, Settlement
from billing.types import Admission, Rule
from core import resp


@pytest.fixture
def sends(monkeypatch) -> list[int]:
    """How many times the client wrote to Redis (one per round trip: a pipeline is written at once)."""
    count = [0]
    send = resp._Protocol.send

    def counting(self, payload, replies):
        count[0] += 1
        return send(self, payload, replies)

    monkeypatch.setattr(resp._Protocol, "send", counting)
    return count


def admission(ledger_id: str, scope: str = "key:1") -> Admission:
    """A request holding one slot of a concurrency limit of one."""
    slot = Rule(kind="conc", scope=scope, family="requests", limit=1, window=60)
    return Admission(
        ledger_id=ledger_id, organization_id=1, rules=(slot,), estimate=0, credit_enforced=False, provider="p"
    )


def held(url: str, ledger_id: str) -> bool:
    return redis.Redis.from_url(url).hexists(HOLDS_KEY, ledger_id)


async def test_a_settlement_rides_with_the_next_admission_ahead_of_it(store_url, sends):
    store = RedisStore(store_url)
    first = admission("first")
    assert (await store.admit(first)).ok
    failed: list[Settlement] = []
    before = sends[0]
    store.defer_settle(Settlement(first, [], 0, '{"request_id": "first"}'), failed.append)
    assert sends[0] == before and held(store_url, "first")  # nothing sent yet
    # A concurrency limit of one: the second request is let in only because the first's slot was freed first.
    assert (await store.admit(admission("second"))).ok
    assert sends[0] == before + 1
    assert not held(store_url, "first") and held(store_url, "second")
    assert redis.Redis.from_url(store_url).xlen(LEDGER_STREAM) == 1
    assert failed == []


async def test_a_settlement_with_no_admission_after_it_goes_alone_soon(store_url, sends):
    store = RedisStore(store_url)
    only = admission("only")
    assert (await store.admit(only)).ok
    store.defer_settle(Settlement(only, [], 0, '{"request_id": "only"}'), pytest.fail)
    await asyncio.sleep(SETTLE_RIDE_SECONDS + 0.05)
    assert not held(store_url, "only")
    assert redis.Redis.from_url(store_url).xlen(LEDGER_STREAM) == 1


async def test_settlements_waiting_together_go_in_one_round_trip(store_url, sends):
    store = RedisStore(store_url)
    admissions = [admission(f"r{i}") for i in range(5)]
    for a in admissions:
        a.rules = ()  # no shared slot: five requests in flight together
        assert (await store.admit(a)).ok
    before = sends[0]
    for a in admissions:
        store.defer_settle(Settlement(a, [], 0, "{}"), pytest.fail)
    await store.drain()
    assert sends[0] == before + 1
    assert not any(held(store_url, a.ledger_id) for a in admissions)


async def test_a_client_leaving_mid_admission_does_not_take_the_riders_with_it(store_url):
    store = RedisStore(store_url)
    first = admission("first")
    assert (await store.admit(first)).ok
    store.defer_settle(Settlement(first, [], 0, "{}"), pytest.fail)
    leaving = asyncio.ensure_future(store.admit(admission("leaving")))
    await asyncio.sleep(0)  # on its way to Redis
    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    await store.drain()
    assert not held(store_url, "first")


async def test_a_settlement_redis_refused_comes_back_to_its_owner_and_the_admission_still_runs(store_url):
    store = RedisStore(store_url)
    first = admission("first", scope="key:first")
    assert (await store.admit(first)).ok
    redis.Redis.from_url(store_url).set(first.rules[0].key, "not a sorted set")  # the settle script fails on it
    failed: list[Settlement] = []
    refused = Settlement(first, [], 0, "{}")
    store.defer_settle(refused, failed.append)
    assert (await store.admit(admission("second"))).ok
    assert failed == [refused]
    assert held(store_url, "second")


async def test_a_server_that_lost_its_scripts_gets_them_again_and_each_settlement_is_applied_once(store_url):
    store = RedisStore(store_url)
    first = admission("first")
    assert (await store.admit(first)).ok
    store.defer_settle(Settlement(first, [], 0, "{}"), pytest.fail)
    redis.Redis.from_url(store_url).script_flush()  # as after a restart without persistence of scripts
    # Both the rider and the admission meet NOSCRIPT; both are sent again once the scripts are loaded.
    assert (await store.admit(admission("second"))).ok
    assert not held(store_url, "first") and held(store_url, "second")
    assert redis.Redis.from_url(store_url).xlen(LEDGER_STREAM) == 1
