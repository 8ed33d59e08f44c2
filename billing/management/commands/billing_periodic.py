"""Billing's periodic jobs: renew subscriptions (issuing invoices) and reconcile stale reservations."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandParser

from billing.services import holds_reconcile, subscriptions_renew_due


class Command(BaseCommand):
    help = "Renew due subscriptions and reconcile stale reservations; --every N to repeat every N seconds."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=int, default=0, help="Repeat every N seconds (0: once).")

    def handle(self, *args, every: int = 0, **options) -> None:
        while True:
            renewed = subscriptions_renew_due()
            reconciled = holds_reconcile()
            self.stdout.write(f"renewed {renewed} subscriptions, reconciled {reconciled} reservations")
            if not every:
                return
            time.sleep(every)
