"""Writing the usage ledger: idempotent bulk inserts, with the credit balance kept equal to it."""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Iterable

import msgspec
import psycopg
from django.db import connection, transaction
from django.db.models import F

from billing.models import CreditAccount, UsageDaily, UsageEvent

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


_MAX_STATUS = 32767  # smallint
_MAX_LATENCY_MS = 2147483647  # integer


def _stored(event: dict) -> dict:
    """An event's values as the ledger stores them: the time in UTC, status and latency within their columns."""
    return {
        **event,
        "created_at": dt.datetime.fromtimestamp(float(event["created_at"]), dt.UTC),
        "status": max(0, min(int(event["status"]), _MAX_STATUS)),
        "latency_ms": max(0, min(int(event["latency_ms"]), _MAX_LATENCY_MS)),
    }


def _row(event: dict) -> tuple:
    values = _stored(event)
    if connection.vendor != "postgresql":
        values["created_at"] = values["created_at"].isoformat(" ")
    return tuple(values.get(name) for name in COLUMNS)


#: What each new event adds to the daily roll-up, in the order ``_roll_up`` reads them.
ROLLUP_SOURCE = (
    "organization_id",
    "cost",
    "created_at",
    "provider",
    "model",
    "modality",
    "key_id",
    "status",
    "input_tokens",
    "output_tokens",
    "images",
    "latency_ms",
)


def _rollup_source(event: dict) -> tuple:
    values = _stored(event)
    return tuple(values[name] for name in ROLLUP_SOURCE)


_SUMS = ("requests", "errors", "cost", "input_tokens", "output_tokens", "images", "latency_ms_sum")


def _roll_up(inserted: list[tuple]) -> None:
    """Add the new events to ``UsageDaily`` with one upsert per group, in key order (no deadlocks)."""
    groups: dict[tuple, list[int]] = {}
    for org, cost, created, provider, model, modality, key_id, status, tin, tout, images, latency in inserted:
        key = (org, created.date(), provider, model, modality, key_id or 0)
        sums = groups.setdefault(key, [0, 0, 0, 0, 0, 0, 0, 0])
        for i, value in enumerate((1, int(status >= 400), cost, tin, tout, images, latency)):
            sums[i] += value
        sums[7] = max(sums[7], latency)
    table = UsageDaily._meta.db_table
    columns = ("organization_id", "day", "provider", "model", "modality", "key_id", *_SUMS, "latency_ms_max")
    updates = ", ".join(f"{c} = {table}.{c} + EXCLUDED.{c}" for c in _SUMS)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "  # noqa: S608 - constant names
        "ON CONFLICT (organization_id, day, provider, model, modality, key_id) DO UPDATE SET "
        f"{updates}, latency_ms_max = GREATEST({table}.latency_ms_max, EXCLUDED.latency_ms_max)"
    )
    if connection.vendor == "sqlite":
        sql = sql.replace("GREATEST(", "MAX(")
    with connection.cursor() as cursor:
        cursor.executemany(sql, [(*key, *sums) for key, sums in sorted(groups.items())])


@transaction.atomic
def usage_events_insert(*, events: Iterable[dict]) -> int:
    """Insert ledger events, ignoring request ids already recorded; returns how many were new.

    The organisations' credit balances go down by the cost of the new events in the same
    transaction, so a balance always equals its grants minus its ledger.
    """
    unique: dict[str, dict] = {}
    for event in events:
        unique.setdefault(event["request_id"], event)  # the first of a repeated id is the one stored
    if not unique:
        return 0
    batch = list(unique.values())
    if connection.vendor == "postgresql":
        new_ids = _insert_postgresql(batch)
    else:
        new_ids = _insert_rows([_row(e) for e in batch])
    # Rolled up from the events themselves: returning every column, timestamps parsed, cost the
    # writer as much again as the insert.
    inserted = [_rollup_source(unique[request_id]) for request_id in new_ids]
    spent: dict[int, int] = defaultdict(int)
    for row in inserted:
        spent[row[0]] += row[1]
    _roll_up(inserted)
    for organization_id, cost in spent.items():
        if cost:
            CreditAccount.objects.filter(organization_id=organization_id).update(balance=F("balance") - cost)
    return len(inserted)


def _insert_rows(rows: list[tuple]) -> list[str]:
    """Insert rows whose request id is new; returns those ids."""
    table = UsageEvent._meta.db_table
    placeholders = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
    inserted: list[str] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            sql = (
                f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES {', '.join([placeholders] * len(chunk))} "  # noqa: S608 - constant names
                "ON CONFLICT (request_id) DO NOTHING RETURNING request_id"
            )
            cursor.execute(sql, [value for row in chunk for value in row])
            inserted += [row[0] for row in cursor.fetchall()]
    return inserted


#: What PostgreSQL computes from an event's JSON fields that ``_row`` computes in Python.
_CONVERTED = {
    "created_at": "to_timestamp(e.created_at)",
    "status": "GREATEST(0, LEAST(e.status, 32767))::smallint",
    "latency_ms": "GREATEST(0, LEAST(e.latency_ms, 2147483647))::integer",
}
#: The JSON types of those fields, before conversion.
_JSON_TYPES = {"created_at": "double precision", "status": "numeric", "latency_ms": "numeric"}


@functools.cache
def _postgresql_insert_sql() -> str:
    """One statement for a whole batch, whose only parameter is the batch as JSON.

    A multi-row ``VALUES`` list has twenty placeholders a row, and the driver rewrites such a
    statement in Python on every execution (its text changes with the batch's size): that was
    most of the ledger writer's CPU, taken from the gateway sharing its machine. A constant
    statement is parsed once.
    """
    fields = {name: UsageEvent._meta.get_field(name) for name in COLUMNS}
    record = ", ".join(f"{name} {_JSON_TYPES.get(name) or f.db_type(connection)}" for name, f in fields.items())
    values = ", ".join(_CONVERTED.get(name, f"e.{name}") for name in COLUMNS)
    return (
        f"INSERT INTO {UsageEvent._meta.db_table} ({', '.join(COLUMNS)}) "  # noqa: S608 - constant names
        f"SELECT {values} FROM json_to_recordset(%s::json) AS e({record}) "
        "ON CONFLICT (request_id) DO NOTHING RETURNING request_id"
    )


def _insert_postgresql(events: list[dict]) -> list[str]:
    """Insert events whose request id is new; returns those ids."""
    connection.ensure_connection()
    # The batch goes as a bound parameter: Django's cursor binds on the client side, escaping the
    # whole JSON text into the statement in Python, which was a fifth of the writer's CPU.
    # Its errors become Django's (DatabaseError and kin), as through Django's own cursor.
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(_postgresql_insert_sql(), [msgspec.json.encode(events).decode()])
        return [row[0] for row in cursor.fetchall()]
