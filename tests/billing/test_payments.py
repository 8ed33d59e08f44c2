"""Payment collection through the plugin hook."""

from __future__ import annotations

import datetime as dt

import pytest

from billing.exceptions import BillingInputError
from billing.models import Plan
from billing.payments import Collected, invoice_collect, payment_collectors
from billing.services import invoice_issue, subscription_create
from plugins.hookspecs import hookimpl
from plugins.registry import plugin_manager

START = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)


class CardCollector:
    name = "card"

    def collect(self, invoice):
        return Collected(amount=invoice.total, reference="ch_123")


class CardPlugin:
    @hookimpl
    def mcp_payment_collectors(self):
        return [CardCollector()]


@pytest.fixture
def invoice(organization):
    subscription_create(
        organization=organization, now=START, plan=Plan.objects.create(slug="p", name="P", monthly_price=9_000_000)
    )
    return invoice_issue(organization=organization, period_start=START, period_end=START + dt.timedelta(days=31))


@pytest.fixture
def card_plugin():
    pm = plugin_manager()
    plugin = CardPlugin()
    pm.register(plugin, name="test-card")
    yield
    pm.unregister(plugin)


def test_the_built_in_manual_collector_collects_nothing_by_itself(invoice):
    assert set(payment_collectors()) >= {"manual"}
    assert invoice_collect(invoice=invoice) is None
    invoice.refresh_from_db()
    assert invoice.status == "open"


def test_a_payment_plugin_collects_and_the_invoice_is_paid(invoice, card_plugin):
    payment = invoice_collect(invoice=invoice, collector="card")
    invoice.refresh_from_db()
    assert (payment.method, payment.reference, invoice.status) == ("card", "ch_123", "paid")


def test_an_unknown_collector_is_refused(invoice):
    with pytest.raises(BillingInputError):
        invoice_collect(invoice=invoice, collector="nope")
