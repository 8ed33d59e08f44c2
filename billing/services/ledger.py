"""Writing the usage ledger: idempotent bulk inserts, with the credit balance kept equal to it."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import F

from billing.models import CreditAccount, UsageEvent

COLUMNS = (
    "request_id",
    "client_request_id",
    "created_at",
    "organization_id",
    "key_id",
    "user_id",
    "provider",
    "model",
    "operation",
    "modality",
    "input_tokens",
    "output_tokens",
    "images",
    "audio_seconds",
    "characters",
    "usage_source",
    "cost",
    "status",
    "latency_ms",
    "cache_hit",
)


def _row(event: dict) -> tuple:
    created = dt.datetime.fromtimestamp(float(event["created_at"]), dt.UTC)
    values = {**event, "created_at": created if connection.vendor == "postgresql" else created.isoformat(" ")}
    values["status"] = max(0, min(int(values["status"]), 32767))
    values["latency_ms"] = max(0, int(values["latency_ms"]))
    return tuple(values.get(name) for name in COLUMNS)


@transaction.atomic
def usage_events_insert(*, events: Iterable[dict]) -> int:
    """Insert ledger events, ignoring request ids already recorded; returns how many were new.

    The organisations' credit balances go down by the cost of the new events in the same
    transaction, so a balance always equals its grants minus its ledger.
    """
    rows = [_row(e) for e in events]
    if not rows:
        return 0
    table = UsageEvent._meta.db_table
    placeholders = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
    inserted: list[tuple[int, int]] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            sql = (
                f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES {', '.join([placeholders] * len(chunk))} "  # noqa: S608 - constant names
                "ON CONFLICT (request_id) DO NOTHING RETURNING organization_id, cost"
            )
            cursor.execute(sql, [value for row in chunk for value in row])
            inserted += cursor.fetchall()
    spent: dict[int, int] = defaultdict(int)
    for organization_id, cost in inserted:
        spent[organization_id] += cost
    for organization_id, cost in spent.items():
        if cost:
            CreditAccount.objects.filter(organization_id=organization_id).update(balance=F("balance") - cost)
    return len(inserted)
