"""Usage charts, CSV and Billing (plan, invoices) in the dashboard, by role."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time

import pytest
from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from billing.models import MICRO, Plan, UsageEvent
from billing.selectors import usage_overview, usage_summary
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


@pytest.mark.parametrize("query", [{"model": "open\x00ai"}, {"days": "²"}, {"key": "²"}])
def test_a_filter_no_ledger_row_can_match_falls_back_to_the_default(signed_in, org, record_usage, query):
    # NUL cannot reach PostgreSQL, and "²" passes str.isdigit() but not int(): neither may be a 500.
    record_usage(org, count=2, model="flux")
    viewer = signed_in("viewer")
    for path in ("/usage/", "/usage/export.csv"):
        response = viewer.get(path, query)
        assert response.status_code == 200, (path, response.content[:200])


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
    # Session, user, memberships, per day, by model, by key, key names, subscription and credits, usage.
    with django_assert_max_num_queries(9):
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


def _ledger_totals(events, *, by: str | None = None) -> dict:
    """The figures the page shows, aggregated directly over the ledger rows (no roll-up)."""
    group = {"day": TruncDate("created_at", tzinfo=dt.UTC)} if by == "day" else {}
    rows = events.annotate(**group).values(*([by] if by else [])) if by else events.values("organization_id")
    rows = rows.annotate(
        requests=Count("id"),
        errors=Count("id", filter=Q(status__gte=400)),
        cost=Sum("cost"),
        input_tokens=Sum("input_tokens"),
        output_tokens=Sum("output_tokens"),
        latency=Sum("latency_ms"),
    )
    return {
        (row[by].isoformat() if by == "day" else row[by]) if by else "all": {
            "requests": row["requests"],
            "errors": row["errors"],
            "cost": row["cost"],
            "input_tokens": row["input_tokens"],
            "output_tokens": row["output_tokens"],
            "mean_latency_ms": round(row["latency"] / row["requests"], 1),
        }
        for row in rows
    }


@pytest.mark.parametrize("time_zone", ["UTC", "Pacific/Kiritimati", "America/Adak"])
def test_the_90_day_figures_equal_a_direct_aggregate_over_the_ledger(signed_in, org, record_usage, settings, time_zone):
    """The roll-up the page reads agrees with the ledger itself: per UTC day, today so far, at the edges."""
    settings.TIME_ZONE = time_zone  # days are UTC days whatever the site's zone
    now = timezone.now()
    midnight = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first_day = midnight - dt.timedelta(days=89)
    api_key, _ = api_key_create_for_tests(org=org, name="production")
    moments = [
        (now - dt.timedelta(seconds=1), {}),  # today so far
        (midnight, {"status": 500, "latency_ms": 900}),  # the first instant of today
        (midnight - dt.timedelta(microseconds=1), {"model": "flux", "key_id": api_key.pk}),  # the last of yesterday
        (midnight - dt.timedelta(days=12, hours=5), {"status": 429, "cost": 0, "key_id": api_key.pk}),
        (first_day, {"model": "flux", "cost": 7}),  # the first instant of the period
        (first_day - dt.timedelta(microseconds=1), {"cost": 999}),  # just before it: not shown
    ]
    for moment, fields in moments:
        record_usage(org, count=2, created_at=moment.timestamp(), **fields)
    record_usage(organization_create_for_tests(slug="globex"), count=3)  # another organisation's

    ledger = UsageEvent.objects.filter(organization_id=org.pk, created_at__gte=first_day, created_at__lte=now)
    client = signed_in("owner")
    csv_rows = list(csv.DictReader(io.StringIO(client.get("/usage/export.csv", {"days": "90"}).content.decode())))
    assert len(csv_rows) == 90 and csv_rows[0]["day"] == first_day.date().isoformat()
    assert csv_rows[-1]["day"] == midnight.date().isoformat()
    shown = {
        row["day"]: {
            "requests": int(row["requests"]),
            "errors": int(row["errors"]),
            "cost": round(float(row["cost_credits"]) * MICRO),
            "input_tokens": int(row["input_tokens"]),
            "output_tokens": int(row["output_tokens"]),
            "mean_latency_ms": float(row["mean_latency_ms"]),
        }
        for row in csv_rows
        if int(row["requests"])
    }
    assert shown == _ledger_totals(ledger, by="day")
    assert shown[midnight.date().isoformat()]["requests"] == 4  # today: the partial day, both of its edges

    scope = {"organization_id": org.pk, "start": first_day, "end": now}
    fields = ("requests", "errors", "cost", "input_tokens", "output_tokens", "mean_latency_ms")
    for group_by, events in (("model", ledger), ("key", ledger.annotate(key=Coalesce("key_id", 0)))):
        summary = {
            row["group"]: {name: row[name] for name in fields} for row in usage_summary(**scope, group_by=group_by)
        }
        assert summary == _ledger_totals(events, by=group_by)

    overview = usage_overview(organization_id=org.pk, now=now)
    period = UsageEvent.objects.filter(
        organization_id=org.pk, created_at__gte=overview["period_start"], created_at__lte=now
    )
    [today] = _ledger_totals(period.filter(created_at__gte=midnight)).values()
    [whole] = _ledger_totals(period).values()
    for totals, direct in ((overview["today"], today), (overview["period"], whole)):
        assert (totals["requests"], totals["errors"], totals["cost"]) == (
            direct["requests"],
            direct["errors"],
            direct["cost"],
        )
        assert totals["tokens"] == direct["input_tokens"] + direct["output_tokens"]
