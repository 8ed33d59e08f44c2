"""Invoices: totals from the ledger, statuses, payments, renderings."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from billing.exceptions import InvoiceStateError
from billing.models import Plan, UsageEvent
from billing.rendering import invoice_csv, invoice_html, invoice_pdf
from billing.services import invoice_issue, invoice_void, payment_record, subscription_create, usage_events_insert
from tests.billing.factories import usage_event_for_tests

START = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
END = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)


def _events(organization, count: int, *, at: dt.datetime, model: str = "openai", cost: int = 1234) -> list[dict]:
    return [
        usage_event_for_tests(
            organization_id=organization.pk,
            request_id=f"{model}-{at:%d}-{i}",
            created_at=at.timestamp() + i,
            key_id=1,
            model=model,
            cost=cost + i,
        )
        for i in range(count)
    ]


@pytest.fixture
def billed(organization):
    plan = Plan.objects.create(
        slug="payg", name="Pay as you go", monthly_price=3_000_000, overage_policy="bill", overage_rate_percent=150
    )
    subscription_create(organization=organization, plan=plan, now=START)
    usage_events_insert(events=_events(organization, 7, at=START + dt.timedelta(days=2)))
    usage_events_insert(events=_events(organization, 3, at=START + dt.timedelta(days=9), model="mistral", cost=999))
    usage_events_insert(events=_events(organization, 2, at=END + dt.timedelta(days=1)))  # next period
    return organization


def test_the_invoice_usage_lines_sum_to_the_ledger_total_of_the_period(billed):
    invoice = invoice_issue(organization=billed, period_start=START, period_end=END)
    ledger = sum(e.cost for e in UsageEvent.objects.filter(created_at__gte=START, created_at__lt=END))
    usage_lines = [line for line in invoice.lines.all() if line.kind == "usage"]
    assert invoice.usage_total == ledger == sum(line.amount for line in usage_lines)
    assert {(line.model, line.quantity) for line in usage_lines} == {("openai", 7), ("mistral", 3)}
    overage = ledger * 50 // 100
    assert invoice.total == 3_000_000 + ledger + overage
    assert invoice.status == "open"


def test_issuing_twice_returns_the_same_invoice(billed):
    first = invoice_issue(organization=billed, period_start=START, period_end=END)
    assert invoice_issue(organization=billed, period_start=START, period_end=END).pk == first.pk


def test_payments_mark_the_invoice_paid_once_they_cover_the_total(billed):
    invoice = invoice_issue(organization=billed, period_start=START, period_end=END)
    payment_record(invoice=invoice, amount=invoice.total - 1, method="bank", reference="SEPA 1")
    invoice.refresh_from_db()
    assert invoice.status == "open"
    payment_record(invoice=invoice, amount=1, method="manual")
    invoice.refresh_from_db()
    assert invoice.status == "paid" and invoice.paid_at is not None
    with pytest.raises(InvoiceStateError):
        invoice_void(invoice=invoice)


def test_a_void_invoice_takes_no_payment(billed):
    invoice = invoice_void(invoice=invoice_issue(organization=billed, period_start=START, period_end=END))
    with pytest.raises(InvoiceStateError):
        payment_record(invoice=invoice, amount=5)


def test_the_invoice_renders_as_html_pdf_and_csv(billed):
    invoice = invoice_issue(organization=billed, period_start=START, period_end=END)
    html = invoice_html(invoice)
    assert invoice.number in html and "mistral" in html
    assert invoice_pdf(invoice).startswith(b"%PDF")
    rows = list(csv.reader(io.StringIO(invoice_csv(invoice))))
    assert rows[-1][1] == "total" and int(rows[-1][-1]) == invoice.total
    assert sum(int(r[-1]) for r in rows[1:-1]) == invoice.total
