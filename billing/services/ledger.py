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


def usage_events_insert(*, events: Iterable[dict]) -> int:
    """Insert ledger events, ignoring request ids already recorded; returns how many were new.

    The organisations' credit balances go down by the cost of the new events, and the daily roll-up
    up by them, in the same transaction, so a balance always equals its grants minus its ledger.
    """
    batch = list(events)
    if not batch:
        return 0
    if connection.vendor == "postgresql":
        return _insert_postgresql(msgspec.json.encode(batch))
    return _insert_in_python(batch)


def usage_events_insert_encoded(*, events: list[bytes]) -> int:
    """:func:`usage_events_insert` for events as JSON objects, as the ledger outbox holds them.

    On PostgreSQL they are joined into the statement's one parameter and never decoded in Python:
    decoding, clamping and rolling up a batch there cost the ledger writer more than its insert.
    """
    if not events:
        return 0
    if connection.vendor == "postgresql":
        return _insert_postgresql(b"[" + b",".join(events) + b"]")
    return _insert_in_python([msgspec.json.decode(event) for event in events])


@transaction.atomic
def _insert_in_python(events: list[dict]) -> int:
    unique: dict[str, dict] = {}
    for event in events:
        unique.setdefault(event["request_id"], event)  # the first of a repeated id is the one stored
    new_ids = _insert_rows([_row(e) for e in unique.values()])
    inserted = [_rollup_source(unique[request_id]) for request_id in new_ids]
    spent: dict[int, int] = defaultdict(int)
    for row in inserted:
        spent[row[0]] += row[1]
    _roll_up(inserted)
    for organization_id, cost in sorted(spent.items()):
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
_ROLLUP_KEY = ("organization_id", "day", "provider", "model", "modality", "key_id")


@functools.cache
def _postgresql_insert_sql() -> str:
    """One statement for a whole batch, whose only parameter is the batch as a JSON array.

    It inserts the new events, adds them to the daily roll-up and debits their cost from the credit
    accounts, all from the rows the insert returns (stored values: clamped, the time in UTC), in one
    round trip and one transaction. The statement's text is constant, so it is parsed once: a
    multi-row ``VALUES`` list, whose text changes with the batch's size, was rewritten by the driver in
    Python on every execution, most of the writer's CPU, taken from the gateway sharing its machine.
    A repeated request id in a batch is stored once, as it first appears (``DO NOTHING`` skips rows
    the same statement inserted).
    """
    fields = {name: UsageEvent._meta.get_field(name) for name in COLUMNS}
    record = ", ".join(f"{name} {_JSON_TYPES.get(name) or f.db_type(connection)}" for name, f in fields.items())
    values = ", ".join(_CONVERTED.get(name, f"e.{name}") for name in COLUMNS)
    daily = UsageDaily._meta.db_table
    key = ", ".join(_ROLLUP_KEY)
    sums = ", ".join(_SUMS)
    updates = ", ".join(f"{c} = {daily}.{c} + EXCLUDED.{c}" for c in _SUMS)
    account = CreditAccount._meta.db_table
    return (
        f"WITH ins AS (INSERT INTO {UsageEvent._meta.db_table} ({', '.join(COLUMNS)}) "  # noqa: S608 - constant names
        f"SELECT {values} FROM json_to_recordset(%s::json) AS e({record}) "
        "ON CONFLICT (request_id) DO NOTHING "
        "RETURNING organization_id, (created_at AT TIME ZONE 'UTC')::date AS day, provider, model, modality, "
        "COALESCE(key_id, 0) AS key_id, status, cost, input_tokens, output_tokens, images, latency_ms), "
        # In key order, as the Python roll-up: two writers lock the same rows in the same order.
        f"rolled AS (INSERT INTO {daily} ({key}, {sums}, latency_ms_max) "
        f"SELECT {key}, count(*), count(*) FILTER (WHERE status >= 400), sum(cost), sum(input_tokens), "
        f"sum(output_tokens), sum(images), sum(latency_ms), max(latency_ms) FROM ins GROUP BY {key} ORDER BY {key} "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}, "
        f"latency_ms_max = GREATEST({daily}.latency_ms_max, EXCLUDED.latency_ms_max)), "
        f"debited AS (UPDATE {account} SET balance = {account}.balance - spent.cost "
        "FROM (SELECT organization_id, sum(cost) AS cost FROM ins GROUP BY organization_id) AS spent "
        f"WHERE {account}.organization_id = spent.organization_id AND spent.cost <> 0) "
        "SELECT count(*) FROM ins"
    )


def _insert_postgresql(batch: bytes) -> int:
    """Insert the events of ``batch`` (a JSON array) whose request id is new; returns how many."""
    connection.ensure_connection()
    # The batch goes as a bound parameter: Django's cursor binds on the client side, escaping the
    # whole JSON text into the statement in Python, which was a fifth of the writer's CPU.
    # Its errors become Django's (DatabaseError and kin), as through Django's own cursor.
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(_postgresql_insert_sql(), [batch.decode()])
        (count,) = cursor.fetchone() or (0,)  # count(*) always answers one row
        return count
