"""Prometheus metrics of billing: admissions and refusals, credits spent, degraded mode, the ledger's progress."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from core.metrics import labelled

#: Credit micro-units per credit (money is integer micro-units everywhere; the metric is in credits).
MICRO_UNITS = 1_000_000
#: Organisations a process labels by id; later ones are counted as ``other``, so a tenant flood cannot
#: multiply the series (dashboards take the top N of the per-organisation rate).
MAX_ORGANIZATION_SERIES = 200

ADMISSIONS = Counter(
    "mcp_billing_admissions_total",
    "Requests admitted by limits and credits, by where their slots are held (redis, local).",
    ["store"],
)
REFUSALS = Counter(
    "mcp_billing_refusals_total",
    "Requests refused at admission, by reason (rate, conc, quota, credit, unavailable, subscription).",
    ["reason"],
)
DEGRADED = Counter(
    "mcp_billing_degraded_admissions_total",
    "Requests admitted by this process's own counters because Redis was unreachable.",
)
REDIS_DEGRADED = Gauge(
    "mcp_billing_redis_degraded",
    "1 while this process's billing runs without Redis (per-process limits, credits fail closed).",
)
CREDITS_SPENT = Counter(
    "mcp_billing_credits_spent_total",
    f"Credits charged, by organisation id (the first {MAX_ORGANIZATION_SERIES} a process sees; the rest as 'other').",
    ["organization"],
)
LEDGER_WRITTEN = Counter(
    "mcp_billing_ledger_events_total",
    "Usage events read from the outbox by flushers, by result (inserted, duplicate).",
    ["result"],
)
SETTLE_FAILURES = Counter(
    "mcp_billing_settle_failures_total",
    "Settlements that could not reach Redis (their reservations are reconciled later).",
)
LEDGER_LAST_FLUSH = Gauge(
    "mcp_billing_ledger_last_flush_timestamp_seconds",
    "When this process's ledger writer last completed a pass (Unix time; 0: never).",
)
LEDGER_OUTBOX = Gauge(
    "mcp_billing_ledger_outbox_entries",
    "Usage events waiting in the Redis outbox at the ledger writer's last pass (its lag).",
)
LEDGER_BUFFERED = Gauge(
    "mcp_billing_ledger_buffered_events",
    "Usage events waiting in this process's own buffer (written while Redis was unreachable).",
)
LEDGER_FLUSH_ERRORS = Counter(
    "mcp_billing_ledger_flush_errors_total",
    "Ledger writer passes that failed and were retried with backoff, by what failed (redis, database, other).",
    ["dependency"],
)

admissions = labelled(ADMISSIONS)
refusals = labelled(REFUSALS)
_credits_spent = labelled(CREDITS_SPENT)
_organizations: set[str] = set()


def organization_label(organization_id: int | None) -> str:
    """The ``organization`` label of an organisation: its id, or ``other`` past the series cap."""
    label = str(organization_id)
    if label in _organizations:
        return label
    if len(_organizations) < MAX_ORGANIZATION_SERIES:
        _organizations.add(label)
        return label
    return "other"


def observe_credits_spent(organization_id: int | None, cost: int) -> None:
    """Count ``cost`` (micro-units) spent by an organisation."""
    if cost > 0:
        _credits_spent(organization_label(organization_id)).inc(cost / MICRO_UNITS)
