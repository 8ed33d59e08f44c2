"""The admin's analytics page: usage from the ledger, aggregated in the database, drawn as inline SVG.

No JavaScript and no inline styles (the site's Content-Security-Policy forbids both): the charts
are SVG bars with presentation attributes.
"""

from __future__ import annotations

import datetime as dt
from typing import TypedDict

from django.contrib.admin import AdminSite
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone

from accounts.models import Organization
from billing.charts import bar_chart
from billing.rendering import credits
from billing.selectors import latency_percentiles, usage_daily_series, usage_summary
from core.numbers import plain_int


class _Scope(TypedDict):
    organization_id: int | None
    start: dt.datetime
    end: dt.datetime


def analytics_view(admin_site: AdminSite, request: HttpRequest) -> TemplateResponse:
    days = min(max(plain_int(request.GET.get("days", "")) or 30, 1), 366)
    organization_id = plain_int(request.GET.get("organization", ""))
    end = timezone.now()
    start = (end - dt.timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    scope = _Scope(organization_id=organization_id, start=start, end=end)
    per_day = usage_daily_series(**scope)
    charts = [
        bar_chart("Requests per day", [(str(r["group"]), r["requests"]) for r in per_day]),
        bar_chart("Cost per day", [(str(r["group"]), (r["cost"] or 0) / 1e6) for r in per_day], unit=" credits"),
        bar_chart("Errors per day", [(str(r["group"]), r["errors"]) for r in per_day], colour="#a40e26"),
    ]
    context = {
        **admin_site.each_context(request),
        "title": "Usage analytics",
        "charts": charts,
        "days": days,
        "organization_id": organization_id,
        "organizations": Organization.objects.order_by("slug").values_list("pk", "slug"),
        "latency": latency_percentiles(**scope),
        "top_models": _top(usage_summary(**scope, group_by="model")),
        "top_keys": _top(usage_summary(**scope, group_by="key")),
        "top_organizations": _top(usage_summary(**scope, group_by="organization")),
    }
    return TemplateResponse(request, "billing/analytics.html", context)


def _top(rows: list[dict], limit: int = 10) -> list[tuple[object, int, int, str]]:
    return [(r["group"], r["requests"], r["errors"], credits(r["cost"] or 0)) for r in rows[:limit]]
