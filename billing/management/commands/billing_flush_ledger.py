"""Move usage events from the Redis outbox into the ledger table (a worker runs it alongside the gateways)."""

from __future__ import annotations

import asyncio
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from billing import ledger
from billing.hotpath import redis_store
from billing.services import holds_reconcile, subscriptions_renew_due


class Command(BaseCommand):
    help = "Flush the usage outbox (Redis stream) into the ledger; --once for a single pass."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")
        parser.add_argument(
            "--periodic-every", type=int, default=0,
            help="Also renew due subscriptions and reconcile stale reservations every N seconds (0: never).",
        )  # fmt: skip

    def handle(self, *args, once: bool = False, periodic_every: int = 0, **options) -> None:
        store = redis_store()
        if store is None:
            raise CommandError("REDIS_URL is not set: without Redis each gateway process flushes its own events.")

        async def run() -> None:
            client, *_ = store.client()
            next_periodic = time.monotonic()
            while True:
                count = await ledger.flush_stream(client)
                if periodic_every and time.monotonic() >= next_periodic:
                    next_periodic = time.monotonic() + periodic_every
                    # Own threads: this loop may itself run under sync_to_async (tests).
                    renewed = await sync_to_async(subscriptions_renew_due, thread_sensitive=False)()
                    reconciled = await sync_to_async(holds_reconcile, thread_sensitive=False)()
                    self.stdout.write(f"renewed {renewed} subscriptions, reconciled {reconciled} reservations")
                if once:
                    self.stdout.write(f"flushed {count} events")
                    return
                await asyncio.sleep(settings.BILLING_LEDGER_FLUSH_SECONDS)

        asyncio.run(run())
