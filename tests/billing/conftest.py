"""Billing fixtures: plans, subscribed organisations, and helpers to settle and flush the ledger."""

from __future__ import annotations

import pytest
import redis
from asgiref.sync import sync_to_async
from django.conf import settings

from billing import hotpath, ledger
from billing.models import Plan, UsageEvent
from billing.services import subscription_create
from tests.conftest import require_env

# Reuse the gateway's fixtures: a real simulator upstream, an organisation, keys, an ASGI client
# (the simulator's URL, ``upstream_url``, comes from tests/conftest.py).
from tests.gateway.conftest import (  # noqa: F401
    amake_key,
    anonymous,
    api_key,
    client,
    gateway_settings,
    make_key,
    organization,
    upstream,
)

CHAT = {"model": "openai", "messages": [{"role": "user", "content": "Hello"}]}


@pytest.fixture(autouse=True)
def _clean_billing_state():
    """Fresh process state, and (with REDIS_URL) no billing keys left by an earlier test in our Redis db."""
    url = settings.CONFIG.redis_url
    if url:
        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter("mcp:bill:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
    hotpath.reset()
    yield
    hotpath.reset()


@pytest.fixture
def make_plan(transactional_db):
    def make(slug: str = "pro", **fields) -> Plan:
        return Plan.objects.create(slug=slug, name=slug.title(), **fields)

    return make


@pytest.fixture
def subscribe(organization):  # noqa: F811 - the imported fixture, requested
    def sub(plan: Plan, org=None):
        return subscription_create(organization=org or organization, plan=plan)

    return sub


async def settle_and_flush() -> int:
    """Wait for scheduled settlements, then move every queued ledger event into the database."""
    await hotpath.drain()
    count = await ledger.flush_buffer()
    store = hotpath.redis_store()
    if store is not None:
        client = store.client()
        count += await ledger.flush_stream(client, claim_idle_ms=0)
    return count


async def ledger_events(**filters) -> list[UsageEvent]:
    return await sync_to_async(lambda: list(UsageEvent.objects.filter(**filters).order_by("created_at")))()


#: The Redis database (of ``REDIS_URL``'s server) the store tests look into directly.
STORE_DB = 13


@pytest.fixture
def store_url() -> str:
    """The URL of a Redis database of the store tests' own, emptied first: they read its raw keys."""
    base = require_env("REDIS_URL").rsplit("/", 1)[0]
    redis.Redis.from_url(f"{base}/{STORE_DB}").flushdb()
    return f"{base}/{STORE_DB}"
