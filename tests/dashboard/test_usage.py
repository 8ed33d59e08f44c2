"""Usage charts, CSV and Billing (plan, invoices) in the dashboard, by role."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time

import pytest
from django.utils import timezone

from billing.models import Plan
from billing.services import invoice_issue, subscription_create
from tests.accounts.factories import api_key_create_for_tests, organization_create_for_tests


def test_usage_draws_per_day_charts_with_axes_and_says_when_a_series_is_empty(signed_in, org, record_usage):
    record_usage(org, count=3, cost=1_500_000)
    page = signed_in("viewer").get("/usage/").content.decode()
    assert page.count('<svg role="img"') == 3  # requests, cost, latency; no errors to draw
    assert 'Errors per day</figcaption><p class="chart-empty">No data for this period.' in page
    assert "Requests per day: 30 values from" in page  # one bar per day of the period, empty days included
    assert "This period: 3 requests, 4.5 credits." in page


def test_usage_by_key_shows_key_names_not_ids(signed_in, org, record_usage):
    api_key, _ = api_key_create_for_tests(org=org, name="production")
    record_usage(org, count=2, key_id=api_key.pk, model="flux")
    page = signed_in("developer").get("/usage/").content.decode()
    assert "<td>production</td>" in page and "<td>flux</td>" in page


def test_usage_is_filtered_by_model_and_period(signed_in, org, record_usage):
    record_usage(org, count=2, model="flux")
    record_usage(org, count=5, model="openai")
    record_usage(org, count=7, model="openai", created_at=time.time() - 20 * 86_400)
    client = signed_in("owner")
    week = client.get("/usage/export.csv", {"days": "7", "model": "openai"}).content.decode()
    rows = list(csv.DictReader(io.StringIO(week)))
    assert len(rows) == 7 and sum(int(r["requests"]) for r in rows) == 5
    month = client.get("/usage/export.csv", {"days": "30"}).content.decode()
    assert sum(int(r["requests"]) for r in csv.DictReader(io.StringIO(month))) == 14


def test_usage_csv_is_a_download(signed_in, org, record_usage):
    record_usage(org, cost=2_000_000)
    response = signed_in("billing").get("/usage/export.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert response.content.decode().splitlines()[0].startswith("day,requests,errors,cost_credits")


@pytest.mark.parametrize("role", ["owner", "viewer"])
def test_usage_answers_in_a_bounded_number_of_queries(
    signed_in, org, record_usage, role, django_assert_max_num_queries
):
    for number in range(5):
        api_key, _ = api_key_create_for_tests(org=org, name=f"k{number}")
        record_usage(org, count=3, key_id=api_key.pk, model=f"model-{number}")
    client = signed_in(role)
    # Session, user, memberships, per day, by model, by key, key names, subscription, usage, credits.
    with django_assert_max_num_queries(10):
        assert client.get("/usage/").status_code == 200


def _invoice(org):
    plan = Plan.objects.create(slug="pro", name="Pro", monthly_price=9_000_000)
    subscription_create(organization=org, plan=plan)
    now = timezone.now()
    return invoice_issue(organization=org, period_start=now - dt.timedelta(days=30), period_end=now)


def test_a_billing_member_sees_the_plan_and_downloads_invoices(signed_in, org):
    invoice = _invoice(org)
    client = signed_in("billing")
    page = client.get("/billing/").content.decode()
    assert "<strong>Pro</strong>" in page and invoice.number in page
    pdf = client.get(f"/billing/invoices/{invoice.pk}.pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert invoice.number in client.get(f"/billing/invoices/{invoice.pk}.html").content.decode()


def test_roles_without_billing_rights_cannot_see_invoices(signed_in, org):
    invoice = _invoice(org)
    client = signed_in("developer")
    assert client.get("/billing/").status_code == 403
    assert client.get(f"/billing/invoices/{invoice.pk}.pdf").status_code == 403
    assert ">Billing</a>" not in client.get("/").content.decode()


def test_another_organisations_invoice_is_not_found(signed_in, org):
    invoice = _invoice(organization_create_for_tests(slug="globex"))
    assert signed_in("owner").get(f"/billing/invoices/{invoice.pk}.pdf").status_code == 404
