"""When Redis stops: requests/minute degrade to a per-process limit, credits fail closed; then recovery.

A private ``redis-server`` (its own port and directory) is started and stopped by the test, so the
shared Redis other engineers use is never touched.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis
from asgiref.sync import sync_to_async
from django.db import connection

from accounts.services import api_key_create, organization_create
from billing.models import Plan, Price, UsageEvent
from billing.services import credits_grant, subscription_create
from tests.billing.conftest import CHAT
from tests.conftest import require_env
from tests.fixtures.gateway_server import gateway_env, run_gateway
from tests.fixtures.simulator_server import free_port

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
IMAGE = {"model": "flux", "prompt": "a boat"}


@contextmanager
def private_redis(port: int, directory: Path) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if redis.Redis(port=port, socket_timeout=0.5).ping():
                    break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        process.wait(10)


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
            # Redis down: requests/minute fall back to this process's own window (5 again), no crash.
            statuses = [(await http.post("/v1/chat/completions", json=CHAT, headers=metered_auth)) for _ in range(6)]
            assert [a.status_code for a in statuses] == [200] * 5 + [429]
            assert statuses[0].headers["x-ratelimit-limit-requests"] == "5"
            # Credits cannot be checked: refused, not given away.
            refused = await http.post("/v1/images/generations", json=IMAGE, headers=prepaid_auth)
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "billing_unavailable"
            assert int(refused.headers["retry-after"]) >= 1
            # The ledger keeps recording (process buffer → database).
            assert await _wait_events(metered, 8) == 8

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
