"""Payment collection: the built-in collector (plugins' collectors: tests/plugins/test_payment_collectors.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from billing.exceptions import BillingInputError
from billing.models import Plan
from billing.payments import invoice_collect, payment_collectors
from billing.services import invoice_issue, subscription_create

START = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)


@pytest.fixture
def invoice(organization):
    subscription_create(
        organization=organization, now=START, plan=Plan.objects.create(slug="p", name="P", monthly_price=9_000_000)
    )
    return invoice_issue(organization=organization, period_start=START, period_end=START + dt.timedelta(days=31))


def test_the_built_in_manual_collector_collects_nothing_by_itself(invoice):
    assert set(payment_collectors()) >= {"manual"}
    assert invoice_collect(invoice=invoice) is None
    invoice.refresh_from_db()
    assert invoice.status == "open"


def test_an_unknown_collector_is_refused(invoice):
    with pytest.raises(BillingInputError):
        invoice_collect(invoice=invoice, collector="nope")
