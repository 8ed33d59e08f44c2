"""Usage (charts per day, by model and by key, quota and credits, CSV) and Billing (plan, invoices)."""

from __future__ import annotations

import csv
import datetime as dt

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.selectors import api_key_names
from billing.charts import bar_chart
from billing.models import MICRO
from billing.rendering import invoice_html, invoice_pdf
from billing.selectors import invoice_get, invoice_list, usage_daily_series, usage_overview, usage_summary
from core.numbers import plain_int
from dashboard.pages import DashboardRequest, dashboard_page

PERIODS = (7, 30, 90)
TOP_ROWS = 20


def _filters(request: DashboardRequest) -> dict:
    """The period, model and key asked for in the query string (anything else falls back to defaults)."""
    days = plain_int(request.GET.get("days", ""))
    days = days if days in PERIODS else 30
    end = timezone.now()
    start = (end - dt.timedelta(days=days - 1)).astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    model = request.GET.get("model", "")[:200]
    return {
        "days": days,
        "start": start,
        "end": end,
        # No model id holds NUL, and PostgreSQL refuses one in a query.
        "model": model if model and "\x00" not in model else None,
        "key_id": plain_int(request.GET.get("key", "")),
    }


@dashboard_page("view_usage")
def usage(request: DashboardRequest) -> HttpResponse:
    organization = request.workspace.require_organization()
    filters = _filters(request)
    scope = {"organization_id": organization.pk, "start": filters["start"], "end": filters["end"]}
    per_day = usage_daily_series(**scope, model=filters["model"], key_id=filters["key_id"])
    days = [(row["group"], row) for row in per_day]
    charts = [
        bar_chart("Requests per day", [(day, row["requests"]) for day, row in days]),
        bar_chart("Cost per day", [(day, (row["cost"] or 0) / MICRO) for day, row in days], unit=" credits"),
        bar_chart("Errors per day", [(day, row["errors"]) for day, row in days], colour="#a40e26"),
        bar_chart(
            "Mean latency per day", [(day, row["mean_latency_ms"]) for day, row in days], unit=" ms", colour="#5a4a9c"
        ),
    ]
    by_model = usage_summary(**scope, group_by="model")[:TOP_ROWS]
    by_key = usage_summary(**scope, group_by="key")[:TOP_ROWS]
    names = api_key_names(organization=organization, key_ids=[row["group"] for row in by_key])
    for row in by_key:
        row["name"] = names.get(row["group"], "no key" if not row["group"] else f"key {row['group']}")
    context = {
        "filters": filters,
        "periods": PERIODS,
        "charts": charts,
        "by_model": by_model,
        "by_key": by_key,
        "overview": usage_overview(organization_id=organization.pk),
        "query": request.GET.urlencode(),
    }
    return render(request, "dashboard/usage.html", context)


@dashboard_page("view_usage")
def usage_csv(request: DashboardRequest) -> HttpResponse:
    """The same per-day numbers as the charts, as CSV."""
    organization = request.workspace.require_organization()
    filters = _filters(request)
    rows = usage_daily_series(
        organization_id=organization.pk,
        start=filters["start"],
        end=filters["end"],
        model=filters["model"],
        key_id=filters["key_id"],
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="usage-{organization.slug}-{filters["days"]}d.csv"'
    writer = csv.writer(response)
    writer.writerow(
        ["day", "requests", "errors", "cost_credits", "input_tokens", "output_tokens", "images", "mean_latency_ms"]
    )
    for row in rows:
        writer.writerow(
            [
                row["group"],
                row["requests"],
                row["errors"],
                f"{(row['cost'] or 0) / MICRO:.6f}",
                row["input_tokens"],
                row["output_tokens"],
                row["images"],
                row["mean_latency_ms"],
            ]
        )
    return response


@dashboard_page("view_billing")
def billing(request: DashboardRequest) -> HttpResponse:
    organization = request.workspace.require_organization()
    context = {
        "overview": usage_overview(organization_id=organization.pk),
        "invoices": invoice_list(organization_id=organization.pk),
    }
    return render(request, "dashboard/billing.html", context)


@dashboard_page("view_billing")
def invoice_document(request: DashboardRequest, invoice_id: int, fmt: str) -> HttpResponse:
    """An issued invoice of the current organisation as HTML or PDF."""
    invoice = invoice_get(organization_id=request.workspace.require_organization().pk, invoice_id=invoice_id)
    if invoice is None:
        raise Http404("No such invoice.")
    if fmt == "pdf":
        response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
        return response
    return HttpResponse(invoice_html(invoice))
