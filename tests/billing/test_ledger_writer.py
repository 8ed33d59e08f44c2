"""The ledger writer rides out outages: it backs off, never exits, and says how it is doing."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import sys
import time

import httpx
import pytest
import redis
from asgiref.sync import sync_to_async
from django.db import OperationalError, connection

from accounts.services import organization_create
from billing import ledger
from billing._stores import LEDGER_STREAM
from billing.metrics import LEDGER_FLUSH_ERRORS
from billing.models import UsageEvent
from tests.billing.test_durability import _event
from tests.conftest import require_env
from tests.fixtures.gateway_server import gateway_env
from tests.fixtures.processes import serving
from tests.fixtures.redis_server import private_redis
from tests.fixtures.simulator_server import free_port


async def test_the_writer_backs_off_after_redis_and_database_errors_and_carries_on(settings):
    require_env("REDIS_URL")
    settings.BILLING_LEDGER_FLUSH_SECONDS = 0.01
    failures = [redis.ConnectionError("refused"), OperationalError("server closed the connection"), None]
    pauses: list[float] = []

    async def one_pass() -> int:
        failure = failures.pop(0)
        if failure is not None:
            raise failure
        return 1

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    before = {d: LEDGER_FLUSH_ERRORS.labels(d)._value.get() for d in ("redis", "database")}
    await ledger.run_writer(one_pass, stop_after_one=True, sleep=pause)
    assert pauses == [ledger.BACKOFF_FIRST_SECONDS, 2 * ledger.BACKOFF_FIRST_SECONDS]
    assert {d: LEDGER_FLUSH_ERRORS.labels(d)._value.get() - before[d] for d in before} == {"redis": 1, "database": 1}


@pytest.mark.slow
@pytest.mark.postgres
async def test_the_writer_command_survives_a_redis_restart_and_reports_it(transactional_db, tmp_path):
    require_env("DATABASE_URL")
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    redis_port, health_port = free_port(), free_port()
    env = gateway_env(
        database_name=connection.settings_dict["NAME"],
        upstream_url="http://127.0.0.1:9",
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        BILLING_LEDGER_FLUSH_MS="100",
    )
    command = [sys.executable, "manage.py", "billing_flush_ledger", "--health-port", str(health_port)]
    health = f"http://127.0.0.1:{health_port}"
    client = redis.Redis(port=redis_port)
    org = (await sync_to_async(organization_create)(name="Writer", slug="writer")).pk
    with private_redis(redis_port, tmp_path, appendonly=True) as server:
        with serving(command, health_url=f"{health}/readyz", env=env) as writer:
            client.xadd(LEDGER_STREAM, {"e": json.dumps(_event("before-outage", org))})
            server.send_signal(signal.SIGKILL)
            server.wait(10)
            await asyncio.sleep(3)  # several failed passes
            assert writer.poll() is None
            metrics = httpx.get(f"{health}/metrics").text
            assert 'mcp_billing_ledger_flush_errors_total{dependency="redis"}' in metrics
            with private_redis(redis_port, tmp_path, appendonly=True):
                client.xadd(LEDGER_STREAM, {"e": json.dumps(_event("after-outage", org))})
                deadline = time.monotonic() + 40  # the backoff is at most 30 s
                while time.monotonic() < deadline:
                    ids = await sync_to_async(lambda: set(UsageEvent.objects.values_list("request_id", flat=True)))()
                    if "after-outage" in ids:
                        break
                    await asyncio.sleep(0.2)
                assert {"before-outage", "after-outage"} <= ids
                # The row is visible as soon as its insert commits; the pass acknowledges it and counts
                # the outbox only after that, so the count is waited for, not read at once.
                deadline = time.monotonic() + 10
                while True:
                    ready = httpx.get(f"{health}/readyz")
                    if ready.json()["checks"]["ledger_writer"]["outbox"] == 0 or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.1)
                assert ready.status_code == 200
                assert ready.json()["checks"]["ledger_writer"]["outbox"] == 0
                assert "mcp_billing_ledger_last_flush_timestamp_seconds" in httpx.get(f"{health}/metrics").text
                assert writer.poll() is None
