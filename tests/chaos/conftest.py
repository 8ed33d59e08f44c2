"""A cluster to break: three gateway replicas, two job workers and the ledger writer behind nginx, on
a private Redis (AOF, as production must run it) and a private PostgreSQL, so that scenarios can
SIGKILL and restart any of them without touching the shared services.

Every scenario draws its choices (which replica, when) from a seed printed in its output;
``CHAOS_SEED=<n>`` replays it. Figures are printed as ``[chaos] …`` lines (``make chaos`` shows them).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis

from scripts.cluster_local import Cluster, ClusterPorts, run_cluster
from scripts.cluster_nginx import find_nginx
from scripts.local_processes import PYTHON, ProcessGroup, free_port
from tests.conftest import IN_CI
from tests.fixtures.postgres_server import PrivatePostgres, server_binaries

#: Holds of a dead process are settled within this (heartbeat lifetime + confirmation + a pass).
RECONCILE_WITHIN_SECONDS = 60
#: What every scenario's organisations and keys are made of (one Django start-up for all).
SETUP = """
import json
from accounts.services import api_key_create, organization_create
from billing.models import Plan, Price
from billing.services import credits_grant, subscription_create
Price.objects.create(model="openai", per_1k_input_tokens=1_000, per_1k_output_tokens=2_000)
Price.objects.create(model="flux", per_image=100_000)
out = {}
for slug, block in (("burst", False), ("prepaid", True), ("stream", True), ("jobs", True), ("pg", False)):
    org = organization_create(name=slug, slug=slug)
    plan = Plan.objects.create(slug=slug, name=slug, overage_policy="block" if block else "bill")
    subscription_create(organization=org, plan=plan)
    if block:
        credits_grant(organization=org, amount=100_000 * 1_000_000, reason="chaos")
    out[slug] = {"org": org.pk, "keys": []}
    count = 4 if slug == "burst" else 1
    for i in range(count):
        limits = {"requests_per_minute": 50} if slug == "burst" else None
        _, raw = api_key_create(organization=org, name=f"{slug}-{i}", scopes=("text", "image"), limits=limits)
        out[slug]["keys"].append(raw)
print(json.dumps(out))
"""


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


@dataclass
class Chaos:
    """The running cluster and the handles to break it."""

    cluster: Cluster
    services: ProcessGroup
    postgres: PrivatePostgres
    redis_command: list[str]
    redis_port: int
    writer_url: str
    tenants: dict
    seed: int

    def rng(self, scenario: str) -> random.Random:
        """The scenario's own random choices, reproducible from the printed seed."""
        print(f"[chaos] {scenario}: seed={self.seed} (CHAOS_SEED={self.seed} replays it)", flush=True)
        return random.Random(f"{self.seed}:{scenario}")

    @property
    def redis(self) -> redis.Redis:
        return redis.Redis(port=self.redis_port, socket_timeout=5)

    def kill_redis(self) -> None:
        self.services.kill("redis", signal.SIGKILL)

    def start_redis(self) -> None:
        self.services.start("redis", self.redis_command, os.environ)
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.redis.ping():
                    return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill_postgres(self) -> None:
        self.services.kill("postgres", signal.SIGKILL)

    def start_postgres(self) -> None:
        self.services.start("postgres", self.postgres.command(), os.environ)
        self.postgres.wait_ready()

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.postgres.url, connect_timeout=5) as conn:
            return conn.execute(sql, params).fetchall()

    def writer_running(self) -> bool:
        return "ledger-writer" not in self.cluster.group.exited()

    def wait(self, what: str, predicate, timeout: float) -> float:
        """Poll ``predicate`` until true; return the seconds it took (fail naming ``what``)."""
        started = time.monotonic()
        while not predicate():
            if time.monotonic() - started > timeout:
                raise AssertionError(f"{what}: not within {timeout:g} s")
            time.sleep(0.25)
        return time.monotonic() - started

    def holds(self, organization_id: int) -> int:
        return sum(
            1
            for _, raw in self.redis.hscan_iter("mcp:bill:holds", count=500)
            if json.loads(raw)["o"] == organization_id
        )

    def balance_matches_ledger(self, organization_id: int) -> tuple[int, int]:
        """(balance, grants − ledger) of an organisation, from the database."""
        ((balance,),) = self.query(
            "SELECT balance FROM billing_creditaccount WHERE organization_id = %s", (organization_id,)
        )
        ((grants,),) = self.query(
            "SELECT COALESCE(SUM(amount), 0) FROM billing_creditgrant WHERE organization_id = %s", (organization_id,)
        )
        ((spent,),) = self.query(
            "SELECT COALESCE(SUM(cost), 0) FROM billing_usageevent WHERE organization_id = %s", (organization_id,)
        )
        return balance, grants - spent


@pytest.fixture(scope="session")
def chaos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chaos]:
    for tool in ("redis-server", "runuser"):
        if shutil.which(tool) is None:
            _unavailable(f"{tool} is not installed")
    if find_nginx() is None:
        _unavailable("nginx is not installed: run `make cluster-local` once, or apt-get install nginx-light")
    if server_binaries() is None:
        _unavailable("PostgreSQL server binaries (initdb) are not installed")
    seed = int(os.environ.get("CHAOS_SEED") or secrets.randbelow(2**31))
    root = tmp_path_factory.mktemp("chaos")
    redis_port, pg_port, writer_port = free_port(), free_port(), free_port()
    (root / "redis").mkdir()
    redis_command = [
        "redis-server",
        "--port",
        str(redis_port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--dir",
        str(root / "redis"),
    ]
    # Not under pytest's temporary directory: that one is private to root, and PostgreSQL runs as postgres.
    pg_dir = Path(tempfile.mkdtemp(prefix="chaos-postgres-"))
    postgres = PrivatePostgres(pg_dir, pg_port)
    with contextlib.ExitStack() as cleanup, ProcessGroup(root / "service-logs") as services:
        cleanup.callback(shutil.rmtree, pg_dir, ignore_errors=True)
        chaos = Chaos(None, services, postgres, redis_command, redis_port, f"http://127.0.0.1:{writer_port}", {}, seed)  # type: ignore[arg-type]
        chaos.start_postgres()
        with psycopg.connect(f"postgres://postgres@127.0.0.1:{pg_port}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE chaos")
        chaos.start_redis()
        environ = {
            **os.environ,
            "DATABASE_URL": postgres.url,
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "BILLING_LEDGER_FLUSHER": "worker",
            "BILLING_LEDGER_FLUSH_MS": "200",
            "JOBS_LEASE_SECONDS": "4",
            # More attempts than test_worker_kill's kills: with a kill every 3-5 s and a 4 s lease, one job
            # was once hit by three kills in a row and failed for good, as the default of 3 says it must.
            # What these tests check is that nothing is lost or charged twice, not the retry budget.
            "JOBS_MAX_ATTEMPTS": "8",
            "LOG_LEVEL": "WARNING",
        }
        ports = ClusterPorts(
            balancer=free_port(), simulator=free_port(), replicas=(free_port(), free_port(), free_port())
        )
        with run_cluster(
            ports=ports, workers=2, state_dir=root / "cluster", environ=environ, install_nginx=False, fail_timeout=1
        ) as cluster:
            chaos.cluster = cluster
            cluster.group.start(
                "ledger-writer",
                [
                    PYTHON,
                    "manage.py",
                    "billing_flush_ledger",
                    "--health-port",
                    str(writer_port),
                    "--reconcile-every",
                    "5",
                ],
                cluster.env,
            )
            cluster.group.wait_http("ledger-writer", f"{chaos.writer_url}/healthz")
            chaos.tenants = json.loads(cluster.manage("shell", "-c", SETUP).strip().splitlines()[-1])
            yield chaos
