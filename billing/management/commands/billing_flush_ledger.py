"""Move usage events from the Redis outbox into the ledger table (a worker runs it alongside the gateways)."""

from __future__ import annotations

import asyncio

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from billing import ledger
from billing.hotpath import redis_store


class Command(BaseCommand):
    help = "Flush the usage outbox (Redis stream) into the ledger; --once for a single pass."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")

    def handle(self, *args, once: bool = False, **options) -> None:
        store = redis_store()
        if store is None:
            raise CommandError("REDIS_URL is not set: without Redis each gateway process flushes its own events.")

        async def run() -> None:
            client, *_ = store.client()
            while True:
                count = await ledger.flush_stream(client)
                if once:
                    self.stdout.write(f"flushed {count} events")
                    return
                await asyncio.sleep(settings.BILLING_LEDGER_FLUSH_SECONDS)

        asyncio.run(run())
