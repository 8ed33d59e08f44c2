"""Move usage events from the Redis outbox into the ledger table (a worker runs it alongside the gateways).

It never exits on an outage of Redis or PostgreSQL: each pass is retried with backoff
(:func:`billing.ledger.run_writer`). With ``--health-port`` it serves ``/healthz``, ``/readyz``
(503 when no pass has completed for :data:`READY_WITHIN_SECONDS`) and ``/metrics``.
"""

from __future__ import annotations

import asyncio
import time

import structlog
from aiohttp import web
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from billing import ledger
from billing.services import holds_reconcile, subscriptions_renew_due
from core.redis_clients import async_client, persistence_warning

log = structlog.get_logger("mcp.billing")

#: The writer is not ready when its last completed pass is older than this (Redis or PostgreSQL out).
READY_WITHIN_SECONDS = 30.0


def ready_state() -> tuple[bool, dict]:
    state = ledger.health()
    limit = max(READY_WITHIN_SECONDS, 5 * settings.BILLING_LEDGER_FLUSH_SECONDS)
    return state["last_flush_age_seconds"] <= limit, state


async def _readyz(request: web.Request) -> web.Response:
    ready, state = ready_state()
    body = {"status": "ok" if ready else "unavailable", "checks": {"ledger_writer": {"ok": ready, **state}}}
    return web.json_response(body, status=200 if ready else 503)


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def serve_health(host: str, port: int) -> web.AppRunner:
    app = web.Application()
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


class Command(BaseCommand):
    help = "Flush the usage outbox (Redis stream) into the ledger; --once for a single pass."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")
        parser.add_argument(
            "--periodic-every",
            type=int,
            default=0,
            help="Also renew due subscriptions and reconcile stale reservations every N seconds (0: never).",
        )
        parser.add_argument(
            "--reconcile-every",
            type=int,
            default=10,
            help="Settle the reservations of dead processes every N seconds (0: only with --periodic-every).",
        )
        parser.add_argument("--health-port", type=int, default=0, help="Serve /healthz, /readyz, /metrics (0: off).")
        parser.add_argument("--health-host", default="127.0.0.1", help="Address for --health-port.")

    def handle(
        self,
        *args,
        once: bool = False,
        periodic_every: int = 0,
        reconcile_every: int = 10,
        health_port: int = 0,
        health_host: str = "127.0.0.1",
        **options,
    ) -> None:
        if not settings.CONFIG.redis_url:
            raise CommandError("REDIS_URL is not set: without Redis each gateway process flushes its own events.")
        if warning := persistence_warning():
            log.warning("redis.no_persistence", detail=warning)
        due = {"periodic": time.monotonic(), "reconcile": time.monotonic()}

        def periodic() -> None:
            now = time.monotonic()
            if periodic_every and now >= due["periodic"]:
                due["periodic"] = now + periodic_every
                renewed, reconciled = subscriptions_renew_due(), holds_reconcile()
                self.stdout.write(f"renewed {renewed} subscriptions, reconciled {reconciled} reservations")
            elif reconcile_every and now >= due["reconcile"]:
                due["reconcile"] = now + reconcile_every
                if reconciled := holds_reconcile():
                    self.stdout.write(f"reconciled {reconciled} reservations of stopped processes")

        async def one_pass() -> int:
            count = await ledger.writer_pass(async_client())
            # Own threads: this loop may itself run under sync_to_async (tests).
            await sync_to_async(periodic, thread_sensitive=False)()
            if once:
                self.stdout.write(f"flushed {count} events")
            return count

        async def run() -> None:
            runner = await serve_health(health_host, health_port) if health_port else None
            try:
                await ledger.run_writer(one_pass, stop_after_one=once)
            finally:
                if runner is not None:
                    await runner.cleanup()

        asyncio.run(run())
