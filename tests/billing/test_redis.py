"""Billing against a private Redis: what each request costs in round trips, and what happens when Redis stops.

When Redis stops, requests/minute degrade to a per-process limit (counting what Redis admitted in
that process) and credits fail closed; then recovery.

A private ``redis-server`` (its own port and directory) is started and stopped by the test, so the
shared Redis other engineers use is never touched.
"""

from __future__ import annotations

import asyncio
import shutil
import time

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from accounts.services import api_key_create, organization_create
from billing.models import Plan, Price, UsageEvent
from billing.services import credits_grant, subscription_create
from tests.billing.conftest import CHAT
from tests.conftest import require_env
from tests.fixtures.gateway_server import gateway_env, run_gateway
from tests.fixtures.redis_server import private_redis
from tests.fixtures.simulator_server import free_port

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
IMAGE = {"model": "flux", "prompt": "a boat"}


def _setup():
    metered = organization_create(name="Metered", slug="metered")
    _, metered_key = api_key_create(organization=metered, name="k", scopes=("text",))
    subscription_create(
        organization=metered,
        plan=Plan.objects.create(slug="metered", name="Metered", requests_per_minute=5, overage_policy="bill"),
    )
    prepaid = organization_create(name="Prepaid", slug="prepaid")
    _, prepaid_key = api_key_create(organization=prepaid, name="k", scopes=("image",))
    Price.objects.create(model="flux", per_image=1_000_000)
    subscription_create(organization=prepaid, plan=Plan.objects.create(slug="prepaid", name="Prepaid"))
    credits_grant(organization=prepaid, amount=100_000_000, reason="top-up")
    return metered, metered_key, prepaid_key


async def _events(organization) -> int:
    return await sync_to_async(UsageEvent.objects.filter(organization=organization, status=200).count)()


async def _wait_events(organization, expected: int) -> int:
    deadline = time.monotonic() + 15
    while (count := await _events(organization)) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    return count


async def test_redis_down_degrades_rate_limits_per_process_fails_credits_closed_and_recovers(
    transactional_db, upstream_url, tmp_path
):
    require_env("DATABASE_URL")
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    metered, metered_key, prepaid_key = await sync_to_async(_setup)()
    port = free_port()
    env = gateway_env(
        database_name=connection.settings_dict["NAME"],
        upstream_url=upstream_url,
        REDIS_URL=f"redis://127.0.0.1:{port}/0",
        BILLING_LEDGER_FLUSH_MS="200",
    )
    metered_auth = {"Authorization": f"Bearer {metered_key}"}
    prepaid_auth = {"Authorization": f"Bearer {prepaid_key}"}
    with private_redis(port, tmp_path) as server, run_gateway(env) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            # Redis up: shared limits and credits.
            for _ in range(3):
                assert (await http.post("/v1/chat/completions", json=CHAT, headers=metered_auth)).status_code == 200
            assert (await http.post("/v1/images/generations", json=IMAGE, headers=prepaid_auth)).status_code == 200
            assert await _wait_events(metered, 3) == 3

            server.terminate()
            server.wait(10)
            # Redis down: requests/minute fall back to this process's own window, which already counts
            # the 3 that Redis admitted here: 2 more, so one process never admits over the limit.
            statuses = [(await http.post("/v1/chat/completions", json=CHAT, headers=metered_auth)) for _ in range(4)]
            assert [a.status_code for a in statuses] == [200] * 2 + [429] * 2
            assert statuses[0].headers["x-ratelimit-limit-requests"] == "5"
            # Credits cannot be checked: refused, not given away.
            refused = await http.post("/v1/images/generations", json=IMAGE, headers=prepaid_auth)
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "billing_unavailable"
            assert int(refused.headers["retry-after"]) >= 1
            # The ledger keeps recording (process buffer → database).
            assert await _wait_events(metered, 5) == 5

            with private_redis(port, tmp_path):
                deadline = time.monotonic() + 10
                while True:
                    answer = await http.post("/v1/images/generations", json=IMAGE, headers=prepaid_auth)
                    if answer.status_code == 200 or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.5)
                assert answer.status_code == 200  # recovered: the balance is reloaded from the database
                back = await http.post("/v1/chat/completions", json=CHAT, headers=metered_auth)
                assert back.status_code == 200
                assert back.headers["x-ratelimit-remaining-requests"] == "4"  # the shared window again


async def test_each_request_runs_two_redis_scripts(transactional_db, upstream_url, tmp_path):
    """Admission and settlement are one Lua script each; nothing else touches Redis per request."""
    import redis as redis_client

    require_env("DATABASE_URL")
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    _, metered_key, _ = await sync_to_async(_setup)()
    port = free_port()
    env = gateway_env(
        database_name=connection.settings_dict["NAME"],
        upstream_url=upstream_url,
        REDIS_URL=f"redis://127.0.0.1:{port}/0",
        BILLING_LEDGER_FLUSH_MS="3600000",
    )
    auth = {"Authorization": f"Bearer {metered_key}"}
    with private_redis(port, tmp_path), run_gateway(env) as url:
        stats = redis_client.Redis(port=port)
        async with httpx.AsyncClient(base_url=url, timeout=30, headers=auth) as http:
            assert (await http.post("/v1/chat/completions", json=CHAT)).status_code == 200  # warm: scripts, key
            await asyncio.sleep(0.3)
            stats.config_resetstat()
            for _ in range(4):
                assert (await http.post("/v1/chat/completions", json=CHAT)).status_code == 200
            await asyncio.sleep(0.3)
        commands = stats.info("commandstats")
    per_request = {
        name.removeprefix("cmdstat_"): value["calls"] / 4
        for name, value in commands.items()
        # Opening a pooled connection (HELLO, CLIENT SETINFO) is not a per-request round trip: the
        # pool may open one more when a settlement overlaps the next admission. Nor is the process's
        # heartbeat (a SET every few seconds from its own thread, billing/heartbeat.py), nor the PING of
        # a pooled connection on its first use or idle past REDIS_HEALTH_CHECK_SECONDS (a health check).
        if not name.startswith(("cmdstat_config", "cmdstat_info", "cmdstat_hello", "cmdstat_client"))
        and name not in ("cmdstat_set", "cmdstat_ping")
    }
    # Redis counts the commands run inside scripts too: these are the two scripts' own steps.
    assert per_request.pop("evalsha") == 2.0
    admit = {"time", "hexists", "zremrangebyscore", "zcard", "zrange", "zadd", "pexpire", "hset"}
    settle = {"hdel", "xadd"}
    assert per_request == dict.fromkeys(admit | settle, 1.0)
