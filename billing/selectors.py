"""Billing reads: balances for the hot path, ledger aggregates for invoices and analytics."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Max, Sum
from django.db.models.functions import TruncDay

from billing.models import CreditAccount, UsageEvent

#: GET /api/usage ``group_by`` values → ledger columns.
GROUPS = {
    "day": "day",
    "model": "model",
    "provider": "provider",
    "key": "key_id",
    "modality": "modality",
    "status": "status",
    "organization": "organization_id",
}


async def credit_cap_get(organization_id: int) -> int:
    """How much the organisation may still spend: balance plus overdraft (0 without an account)."""
    account = await CreditAccount.objects.filter(organization_id=organization_id).afirst()
    return 0 if account is None else account.balance + account.overdraft


def usage_events_between(*, organization_id: int | None, start: dt.datetime, end: dt.datetime):
    events = UsageEvent.objects.filter(created_at__gte=start, created_at__lt=end)
    return events if organization_id is None else events.filter(organization_id=organization_id)


def usage_cost_total(*, organization_id: int, start: dt.datetime, end: dt.datetime) -> int:
    events = usage_events_between(organization_id=organization_id, start=start, end=end)
    return events.aggregate(total=Sum("cost"))["total"] or 0


def usage_by_model(*, organization_id: int, start: dt.datetime, end: dt.datetime) -> list[dict]:
    events = usage_events_between(organization_id=organization_id, start=start, end=end)
    return list(
        events.values("provider", "model", "modality")
        .annotate(requests=Count("id"), cost=Sum("cost"))
        .order_by("provider", "model", "modality")
    )


def usage_summary(
    *,
    organization_id: int | None,
    start: dt.datetime,
    end: dt.datetime,
    group_by: str = "day",
    model: str | None = None,
    key_id: int | None = None,
) -> list[dict]:
    """Requests, errors, tokens, images and cost per group, computed in the database."""
    events = usage_events_between(organization_id=organization_id, start=start, end=end)
    if model:
        events = events.filter(model=model)
    if key_id is not None:
        events = events.filter(key_id=key_id)
    if group_by == "day":
        events = events.annotate(day=TruncDay("created_at"))
    column = GROUPS[group_by]
    rows = (
        events.values(column)
        .annotate(
            requests=Count("id"),
            errors=Count("id", filter=_errors()),
            cost=Sum("cost"),
            input_tokens=Sum("input_tokens"),
            output_tokens=Sum("output_tokens"),
            images=Sum("images"),
            max_latency_ms=Max("latency_ms"),
        )
        .order_by(column if group_by == "day" else "-cost")
    )
    return [{"group": _plain(row.pop(column)), **row} for row in rows[:1000]]


def _errors():
    from django.db.models import Q

    return Q(status__gte=400)


def _plain(value: object) -> object:
    return value.date().isoformat() if isinstance(value, dt.datetime) else value


def latency_percentiles(*, organization_id: int | None, start: dt.datetime, end: dt.datetime) -> dict[str, float]:
    """p50/p95/p99 latency; PostgreSQL computes it (percentile_cont), SQLite in Python (small data)."""
    from django.db import connection

    events = usage_events_between(organization_id=organization_id, start=start, end=end)
    if connection.vendor == "postgresql":
        sql, params = events.values("latency_ms").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms) FROM ({sql}) AS t",  # noqa: S608 - the inner SQL is Django's, with parameters
                params,
            )
            values = cursor.fetchone()[0] or [0, 0, 0]
    else:
        latencies = sorted(events.values_list("latency_ms", flat=True)[:100_000])
        values = [latencies[int(q * (len(latencies) - 1))] if latencies else 0 for q in (0.5, 0.95, 0.99)]
    return {"p50": float(values[0]), "p95": float(values[1]), "p99": float(values[2])}
