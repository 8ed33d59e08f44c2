"""The policy cache: no request waits for the database once a value is known, and an expiry starts one query."""

from __future__ import annotations

import asyncio

import pytest
from cachetools import LRUCache
from django.db import OperationalError

from billing import policy


class Loader:
    """A table whose value changes when told, counting how often it is read."""

    def __init__(self, value: object) -> None:
        self.value, self.calls, self.gate = value, 0, asyncio.Event()
        self.gate.set()

    async def __call__(self) -> object:
        self.calls += 1
        await self.gate.wait()
        if isinstance(self.value, Exception):
            raise self.value
        return self.value


@pytest.fixture
def short_ttl(settings):
    settings.BILLING_POLICY_TTL_SECONDS = 0.05
    policy.reset()
    yield
    policy.reset()


async def settled() -> None:
    await asyncio.gather(*policy._refreshing.values(), return_exceptions=True)


async def test_an_expired_value_is_served_at_once_and_refreshed_in_the_background(short_ttl):
    cache: dict = {}
    table = Loader("plan A")
    assert await policy._cached(cache, "org", table) == "plan A"
    table.value = "plan B"
    await asyncio.sleep(0.06)
    table.gate.clear()  # the database is slow now
    assert await asyncio.wait_for(policy._cached(cache, "org", table), 0.01) == "plan A"
    table.gate.set()
    await settled()
    assert await policy._cached(cache, "org", table) == "plan B"
    assert table.calls == 2


async def test_many_requests_arriving_as_a_value_expires_start_one_query(short_ttl):
    cache: dict = {}
    table = Loader("plan A")
    await policy._cached(cache, "org", table)
    await asyncio.sleep(0.06)
    table.gate.clear()
    answers = await asyncio.gather(*(policy._cached(cache, "org", table) for _ in range(50)))
    assert set(answers) == {"plan A"}
    table.gate.set()
    await settled()
    assert table.calls == 2


async def test_while_the_database_is_down_the_known_value_stays(short_ttl):
    cache: dict = {}
    table = Loader("plan A")
    await policy._cached(cache, "org", table)
    table.value = OperationalError("server closed the connection")
    await asyncio.sleep(0.06)
    assert await policy._cached(cache, "org", table) == "plan A"
    await settled()
    assert await policy._cached(cache, "org", table) == "plan A"


async def test_a_value_never_seen_is_waited_for_and_a_ttl_of_zero_always_reads(settings):
    settings.BILLING_POLICY_TTL_SECONDS = 0
    cache: dict = {}
    table = Loader("plan A")
    assert await policy._cached(cache, "org", table) == "plan A"
    table.value = "plan B"
    assert await policy._cached(cache, "org", table) == "plan B"
    assert table.calls == 2


def test_the_organisation_cache_is_bounded():
    assert isinstance(policy._orgs, LRUCache)
    assert policy._orgs.maxsize == policy.MAX_CACHED_ORGANIZATIONS


async def test_past_its_bound_the_least_recently_used_organisation_is_forgotten_and_read_again(settings):
    settings.BILLING_POLICY_TTL_SECONDS = 60
    cache: LRUCache = LRUCache(maxsize=2)
    loads: list[int] = []

    async def load(key: int) -> int:
        loads.append(key)
        return key * 10

    for key in (1, 2, 1, 3, 1, 2):  # 2 is the least recently used when 3 arrives
        assert await policy._cached(cache, key, lambda key=key: load(key)) == key * 10
    assert loads == [1, 2, 3, 2]
    assert len(cache) == 2
