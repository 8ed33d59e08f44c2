"""Exactness across replicas: three gateway processes sharing PostgreSQL and Redis.

Each test spreads many concurrent requests over the three processes and checks that the shared
limits let exactly the allowed number through, and that the ledger agrees with the balances.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from contextlib import ExitStack

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from accounts.services import api_key_create, organization_create
from billing.models import CreditAccount, Price, UsageEvent
from billing.services import credit_account_ensure, credits_grant, subscription_create
from tests.billing.conftest import CHAT
from tests.conftest import require_env
from tests.fixtures.gateway_server import gateway_env, run_gateway

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(scope="module")
def gateways(django_db_setup, upstream_url):
    """Three gateway processes on the test database and our Redis db."""
    require_env("DATABASE_URL")
    require_env("REDIS_URL")
    env = gateway_env(
        database_name=connection.settings_dict["NAME"], upstream_url=upstream_url, BILLING_POLICY_TTL_SECONDS="0"
    )
    with ExitStack() as stack:
        yield [stack.enter_context(run_gateway(env)) for _ in range(3)]


async def fire(urls: list[str], count: int, path: str, body: dict, key: str, headers=None) -> Counter:
    """``count`` concurrent requests, round-robin over the processes; returns the status counts."""
    auth = {"Authorization": f"Bearer {key}", **(headers or {})}
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        answers = await asyncio.gather(
            *(http.post(f"{urls[i % len(urls)]}{path}", json=body, headers=auth) for i in range(count))
        )
    return Counter(a.status_code for a in answers)


async def wait_for_ledger(expected: int, **filters) -> list[UsageEvent]:
    """Poll the ledger until the processes' flushers have written ``expected`` events (bounded)."""
    deadline = time.monotonic() + 30
    while True:
        events = await sync_to_async(lambda: list(UsageEvent.objects.filter(**filters)))()
        if len(events) >= expected or time.monotonic() > deadline:
            return events
        await asyncio.sleep(0.2)


def _org_and_key(slug: str, **key_fields):
    organization = organization_create(name=slug, slug=slug)
    _, raw = api_key_create(organization=organization, name="k", scopes=("text", "image", "audio"), **key_fields)
    return organization, raw


async def test_a_key_limited_to_50_per_minute_gets_exactly_50_of_200_across_three_processes(gateways, transactional_db):
    organization, key = await sync_to_async(_org_and_key)("rpm", limits={"requests_per_minute": 50})
    statuses = await fire(gateways, 200, "/v1/chat/completions", CHAT, key)
    assert statuses == {200: 50, 429: 150}
    await wait_for_ledger(50, organization_id=organization.pk)
    await asyncio.sleep(0.5)
    events = await wait_for_ledger(50, organization_id=organization.pk)
    # One event per admitted request; refusals happen before admission and are not billed.
    assert Counter(e.status for e in events) == {200: 50}


async def test_a_concurrency_limit_of_5_holds_across_three_processes(gateways, transactional_db):
    organization, key = await sync_to_async(_org_and_key)("conc", limits={"concurrent": 5})
    slow = {"X-Sim-Fault": "latency=3s"}
    statuses = await fire(gateways, 30, "/v1/chat/completions", CHAT, key, headers=slow)
    assert statuses == {200: 5, 429: 25}
    # Slots are released on completion.
    assert await fire(gateways, 3, "/v1/chat/completions", CHAT, key) == {200: 3}
    # Each answered request is billed once, refusals not at all. (Waiting for the processes' ledger
    # writers also keeps them from writing while the test database is emptied after the test.)
    events = await wait_for_ledger(8, organization_id=organization.pk)
    assert Counter(e.status for e in events) == {200: 8}


def _credits_setup():
    from billing.models import Plan

    organization, key = _org_and_key("credits")
    Price.objects.create(model="flux", per_image=1_000_000)
    plan = Plan.objects.create(slug="prepaid", name="Prepaid", overage_policy="block")
    subscription_create(organization=organization, plan=plan)
    credit_account_ensure(organization=organization, overdraft=5_000_000)
    credits_grant(organization=organization, amount=20_000_000, reason="top-up")
    return organization, key


async def test_credits_never_go_below_the_overdraft_and_spent_equals_the_ledger(gateways, transactional_db):
    organization, key = await sync_to_async(_credits_setup)()
    statuses = await fire(gateways, 200, "/v1/images/generations", {"model": "flux", "prompt": "a cat"}, key)
    # 20 credits + 5 of overdraft at 1 credit per image.
    assert statuses == {200: 25, 402: 175}
    events = await wait_for_ledger(25, organization_id=organization.pk)
    await asyncio.sleep(0.5)
    account = await sync_to_async(CreditAccount.objects.get)(organization=organization)
    spent = sum(e.cost for e in events)
    assert spent == 25_000_000
    assert account.balance == 20_000_000 - spent == -account.overdraft
