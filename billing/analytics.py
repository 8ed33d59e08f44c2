"""The admin's analytics page: usage from the ledger, aggregated in the database, drawn as inline SVG.

No JavaScript and no inline styles (the site's Content-Security-Policy forbids both): the charts
are SVG bars with presentation attributes.
"""

from __future__ import annotations

import datetime as dt

from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from accounts.models import Organization
from billing.rendering import credits
from billing.selectors import latency_percentiles, usage_summary

WIDTH, HEIGHT = 720, 160


def bar_chart(title: str, points: list[tuple[str, float]], colour: str = "#417690") -> str:
    """An SVG bar chart of (label, value) points, with the values in each bar's tooltip."""
    top = max((v for _, v in points), default=0) or 1
    step = WIDTH / max(1, len(points))
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}</title></rect>',
        (
            (
                round(i * step, 1),
                round(HEIGHT - HEIGHT * v / top, 1),
                round(max(1.0, step - 2), 1),
                round(HEIGHT * v / top, 1),
                colour,
                label,
                v,
            )
            for i, (label, v) in enumerate(points)
        ),
    )
    return format_html(
        '<figure><figcaption>{} (max {})</figcaption><svg role="img" aria-label="{}" width="{}" height="{}" '
        'viewBox="0 0 {} {}">{}</svg></figure>',
        title,
        top,
        title,
        WIDTH,
        HEIGHT + 2,
        WIDTH,
        HEIGHT + 2,
        bars,
    )


def analytics_view(admin_site, request):
    days = min(max(int(request.GET.get("days", "30") or 30), 1), 366)
    organization_id = request.GET.get("organization") or None
    organization_id = int(organization_id) if organization_id and organization_id.isdigit() else None
    end = timezone.now()
    start = (end - dt.timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    scope = {"organization_id": organization_id, "start": start, "end": end}
    per_day = usage_summary(**scope, group_by="day")
    charts = [
        bar_chart("Requests per day", [(str(r["group"]), r["requests"]) for r in per_day]),
        bar_chart("Cost per day (credits)", [(str(r["group"]), (r["cost"] or 0) / 1e6) for r in per_day], "#79aec8"),
        bar_chart("Errors per day", [(str(r["group"]), r["errors"]) for r in per_day], "#ba2121"),
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
