"""Billing reads: balances for the hot path, ledger aggregates for invoices and analytics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal, TypedDict

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Count, F, Max, Q, QuerySet, Sum
from django.utils import timezone

from accounts.models import Organization
from billing.models import CreditAccount, Invoice, Plan, Subscription, UsageDaily, UsageEvent

#: GET /api/usage ``group_by`` values → columns of the daily roll-up (:class:`UsageDaily`), which keeps
#: error counts but no status column: there is no grouping by status.
GROUPS = {
    "day": "day",
    "model": "model",
    "provider": "provider",
    "key": "key_id",
    "modality": "modality",
    "organization": "organization_id",
}


async def credit_cap_get(organization_id: int) -> int:
    """How much the organisation may still spend: balance plus overdraft (0 without an account)."""
    account = await CreditAccount.objects.filter(organization_id=organization_id).afirst()
    return 0 if account is None else account.balance + account.overdraft


async def plan_get_for_org(*, organization_id: int) -> Plan | None:
    """The organisation's current plan (``None`` without a subscription)."""
    subscription = await Subscription.objects.select_related("plan").filter(organization_id=organization_id).afirst()
    return None if subscription is None else subscription.plan


def usage_events_between(*, organization_id: int | None, start: dt.datetime, end: dt.datetime) -> QuerySet[UsageEvent]:
    events = UsageEvent.objects.filter(created_at__gte=start, created_at__lt=end)
    return events if organization_id is None else events.filter(organization_id=organization_id)


def usage_cost_total(*, organization_id: int, start: dt.datetime, end: dt.datetime) -> int:
    events = usage_events_between(organization_id=organization_id, start=start, end=end)
    return events.aggregate(total=Sum("cost"))["total"] or 0


class ModelUsage(TypedDict):
    """One row of :func:`usage_by_model`: a provider, model and modality's requests and cost (micro-credits)."""

    provider: str
    model: str
    modality: str
    requests: int
    cost: int | None


def usage_by_model(*, organization_id: int, start: dt.datetime, end: dt.datetime) -> list[ModelUsage]:
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
    """Requests, errors, tokens, images and cost per group, from the daily roll-up (whole UTC days).

    ``start`` and ``end`` are rounded to their UTC days: the day of ``start`` up to, excluding, the
    day of ``end`` unless ``end`` falls after midnight.
    """
    first = start.astimezone(dt.UTC).date()
    last = end.astimezone(dt.UTC)
    rows = UsageDaily.objects.filter(day__gte=first, day__lt=last.date() + dt.timedelta(days=1 if last.time() else 0))
    if organization_id is not None:
        rows = rows.filter(organization_id=organization_id)
    if model:
        rows = rows.filter(model=model)
    if key_id is not None:
        rows = rows.filter(key_id=key_id)
    column = GROUPS[group_by]
    grouped = (
        rows.values(column)
        .annotate(
            requests=Sum("requests"),
            errors=Sum("errors"),
            cost=Sum("cost"),
            input_tokens=Sum("input_tokens"),
            output_tokens=Sum("output_tokens"),
            images=Sum("images"),
            latency_ms_sum=Sum("latency_ms_sum"),
            max_latency_ms=Max("latency_ms_max"),
        )
        .order_by(column if group_by == "day" else "-cost")
    )
    result = []
    for row in grouped[:1000]:
        latency_sum = row.pop("latency_ms_sum") or 0
        group = row.pop(column)
        result.append(
            {
                "group": group.isoformat() if isinstance(group, dt.date) else group,
                **row,
                "mean_latency_ms": round(latency_sum / row["requests"], 1) if row["requests"] else 0,
            }
        )
    return result


def latency_percentiles(*, organization_id: int | None, start: dt.datetime, end: dt.datetime) -> dict[str, float]:
    """p50/p95/p99 latency; PostgreSQL computes it (percentile_cont), SQLite in Python (small data)."""
    from django.db import connection

    events = usage_events_between(organization_id=organization_id, start=start, end=end)
    if connection.vendor == "postgresql":
        sql, params = events.values("latency_ms").query.sql_with_params()
        if organization_id is None:
            sql = _sampled(sql)
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


#: Rows read for gateway-wide percentiles; above it, a random sample of the table's pages is used.
PERCENTILE_SAMPLE_ROWS = 50_000


def _sampled(sql: str) -> str:
    """Gateway-wide percentiles on a large ledger: read a random sample of pages (``TABLESAMPLE SYSTEM``).

    Sorting every latency of millions of rows takes seconds; a sample of ~50k rows gives the same
    percentiles to within a few milliseconds. Per-organisation percentiles stay exact.
    """
    from django.db import connection

    table = UsageEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [table])
        estimate = (cursor.fetchone() or [0])[0] or 0
    if estimate <= PERCENTILE_SAMPLE_ROWS:
        return sql
    percent = max(0.01, min(100.0, 100.0 * PERCENTILE_SAMPLE_ROWS / estimate))
    return sql.replace(f'FROM "{table}"', f'FROM "{table}" TABLESAMPLE SYSTEM ({percent:.4f})', 1)


def usage_overview(*, organization_id: int, now: dt.datetime | None = None) -> dict:
    """Today and the current period at a glance (the dashboard's home): two queries, from the roll-up.

    :returns: ``plan`` (the subscription's; without one the default plan, ``BILLING_DEFAULT_PLAN``, over
        calendar months; or ``None``), ``period_start``/``period_end``, ``today`` and ``period`` totals
        (requests, errors, cost, tokens, images), ``balance`` (``None`` without a credit account) and
        ``quotas``: one ``{"name", "used", "limit"}`` per quota the plan sets.
    """
    now = now or timezone.now()
    subscription, account = _subscription_and_account(organization_id)
    if subscription is not None:
        period_start, period_end = subscription.current_period_start, subscription.current_period_end
    else:
        period_start = now.astimezone(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        period_end = None
    today = now.astimezone(dt.UTC).date()
    start = period_start.astimezone(dt.UTC)
    first_day = start.date()
    # The roll-up counts whole days: a period that began during a day takes that day from the ledger,
    # from the period's first moment (usage before the subscription is not this period's).
    partial = start != dt.datetime.combine(first_day, dt.time(), dt.UTC)
    days: list[Mapping[str, Any]] = list(
        UsageDaily.objects.filter(
            organization_id=organization_id, day__gte=first_day + dt.timedelta(days=partial), day__lte=today
        )
        .values("day")
        .annotate(
            requests=Sum("requests"),
            errors=Sum("errors"),
            cost=Sum("cost"),
            tokens=Sum(F("input_tokens") + F("output_tokens")),
            images=Sum("images"),
        )
    )
    if partial and first_day <= today:
        first = UsageEvent.objects.filter(
            organization_id=organization_id,
            created_at__gte=start,
            created_at__lt=dt.datetime.combine(first_day + dt.timedelta(days=1), dt.time(), dt.UTC),
        ).aggregate(
            requests=Count("pk"),
            errors=Count("pk", filter=Q(status__gte=400)),
            cost=Sum("cost"),
            tokens=Sum(F("input_tokens") + F("output_tokens")),
            images=Sum("images"),
        )
        days.append({"day": first_day, **first})
    fields: tuple[Literal["requests", "errors", "cost", "tokens", "images"], ...] = (
        "requests",
        "errors",
        "cost",
        "tokens",
        "images",
    )
    period = dict.fromkeys(fields, 0)
    today_totals = dict.fromkeys(fields, 0)
    for row in days:
        for name in fields:
            period[name] += row[name] or 0
            if row["day"] == today:
                today_totals[name] += row[name] or 0
    plan = subscription.plan if subscription is not None else default_plan()
    quotas = []
    if plan is not None:
        if plan.token_quota is not None:
            quotas.append({"name": "Tokens", "used": period["tokens"], "limit": plan.token_quota})
        if plan.image_quota is not None:
            quotas.append({"name": "Images", "used": period["images"], "limit": plan.image_quota})
        if plan.included_credits:
            spent = min(period["cost"], plan.included_credits)
            quotas.append({"name": "Included credits", "used": spent, "limit": plan.included_credits, "money": True})
    return {
        "plan": plan,
        "period_start": period_start,
        "period_end": period_end,
        "today": today_totals,
        "period": period,
        "balance": None if account is None else account.balance,
        "quotas": quotas,
    }


def default_plan() -> Plan | None:
    """The plan organisations without a subscription are held to (``BILLING_DEFAULT_PLAN``), if it exists."""
    slug = settings.BILLING_DEFAULT_PLAN
    return Plan.objects.filter(slug=slug).first() if slug else None


def _subscription_and_account(organization_id: int) -> tuple[Subscription | None, CreditAccount | None]:
    """The organisation's subscription (with its plan) and credit account, in one query (both optional)."""
    organization = (
        Organization.objects.select_related("subscription__plan", "credit_account").filter(pk=organization_id).first()
    )
    found: list = []
    for name in ("subscription", "credit_account"):
        try:
            found.append(getattr(organization, name) if organization is not None else None)
        except ObjectDoesNotExist:
            found.append(None)
    return found[0], found[1]


def usage_cost_of_request(*, organization_id: int, client_request_id: str, within: dt.timedelta) -> int | None:
    """The cost of one recent request by its ``X-Request-ID`` (``None`` until the ledger has it).

    :param within: how far back to look; it bounds the scan to the organisation's recent rows.
    """
    if "\x00" in client_request_id:
        return None  # no stored id holds NUL, and PostgreSQL refuses one in a query
    since = timezone.now() - within
    costs = UsageEvent.objects.filter(
        organization_id=organization_id, created_at__gte=since, client_request_id=client_request_id
    ).values_list("cost", flat=True)
    found = list(costs[:10])
    return sum(found) if found else None


def usage_daily_series(
    *,
    organization_id: int | None,
    start: dt.datetime,
    end: dt.datetime,
    model: str | None = None,
    key_id: int | None = None,
) -> list[dict]:
    """:func:`usage_summary` per UTC day with every day of the range present (zeros where nothing happened)."""
    rows = {
        row["group"]: row
        for row in usage_summary(
            organization_id=organization_id, start=start, end=end, group_by="day", model=model, key_id=key_id
        )
    }
    empty = {
        "requests": 0,
        "errors": 0,
        "cost": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "images": 0,
        "max_latency_ms": 0,
        "mean_latency_ms": 0,
    }
    first, last = start.astimezone(dt.UTC).date(), end.astimezone(dt.UTC).date()
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    return [rows.get(day.isoformat(), {**empty, "group": day.isoformat()}) for day in days]


def invoice_list(*, organization_id: int, limit: int = 50) -> list[Invoice]:
    """The organisation's invoices, newest period first (drafts are the operators' and are left out)."""
    invoices = Invoice.objects.filter(organization_id=organization_id).exclude(status=Invoice.Status.DRAFT)
    return list(invoices.order_by("-period_start")[:limit])


def invoice_get(*, organization_id: int, invoice_id: int) -> Invoice | None:
    """One issued invoice of the organisation with its lines (``None``: not found or not theirs)."""
    invoices = Invoice.objects.filter(organization_id=organization_id).exclude(status=Invoice.Status.DRAFT)
    return invoices.select_related("organization").prefetch_related("lines").filter(pk=invoice_id).first()
