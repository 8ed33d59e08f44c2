"""Payment collection behind a plugin hook.

A payment plugin (e.g. a future Stripe one) implements ``mcp_payment_collectors`` and returns
collector objects; :func:`invoice_collect` asks the chosen one to charge an open invoice and records
what it collected. The built-in ``manual`` collector charges nothing by itself: operators record
bank transfers and other manual payments with :func:`billing.services.payment_record` (admin action
"Record full manual payment").
"""

from __future__ import annotations

from billing.exceptions import BillingInputError
from billing.models import Invoice, Payment
from billing.services import payment_record
from plugins.registry import plugin_manager
from plugins.types import Collected, PaymentCollector

__all__ = ["Collected", "ManualCollector", "PaymentCollector", "invoice_collect", "payment_collectors"]


class ManualCollector:
    """Bank transfers and other payments recorded by hand: nothing to collect automatically."""

    name = "manual"

    def collect(self, invoice: Invoice) -> Collected | None:
        return None


def payment_collectors() -> dict[str, PaymentCollector]:
    """Every collector: the built-in ``manual`` one and those of installed plugins (which may replace it)."""
    found: dict[str, PaymentCollector] = {"manual": ManualCollector()}
    for returned in plugin_manager().hook.mcp_payment_collectors():
        for collector in returned or ():
            found[collector.name] = collector
    return found


def invoice_collect(*, invoice: Invoice, collector: str = "manual") -> Payment | None:
    """Ask a collector to charge an open invoice; records the payment it reports."""
    chosen = payment_collectors().get(collector)
    if chosen is None:
        raise BillingInputError(f"Unknown payment collector {collector!r}.", param="collector")
    collected = chosen.collect(invoice)
    if collected is None or collected.amount <= 0:
        return None
    return payment_record(invoice=invoice, amount=collected.amount, method=chosen.name, reference=collected.reference)
