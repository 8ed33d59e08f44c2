"""Prometheus metrics of billing: refusals, degraded mode, and the ledger's progress."""

from __future__ import annotations

from prometheus_client import Counter

REFUSALS = Counter(
    "mcp_billing_refusals_total",
    "Requests refused at admission, by reason (rate, conc, quota, credit, unavailable, subscription).",
    ["reason"],
)
DEGRADED = Counter(
    "mcp_billing_degraded_admissions_total",
    "Requests admitted by this process's own counters because Redis was unreachable.",
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
