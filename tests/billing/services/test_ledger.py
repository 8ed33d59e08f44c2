"""Writing the ledger: a batch is inserted as the events say, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import DatabaseError, connection

from billing.models import CreditAccount, UsageDaily, UsageEvent
from billing.services import usage_events_insert
from tests.billing.factories import usage_event_for_tests


def test_a_batch_is_recorded_field_for_field(organization):
    at = dt.datetime(2026, 3, 4, 23, 59, 58, 250_000, tzinfo=dt.UTC)
    event = usage_event_for_tests(
        organization_id=organization.pk,
        created_at=at.timestamp(),
        client_request_id="client-7",
        input_tokens=11,
        output_tokens=22,
        audio_seconds=1.5,
        characters=33,
        cost=44,
        cache_hit=True,
    )

    assert usage_events_insert(events=[event]) == 1

    row = UsageEvent.objects.get(request_id=event["request_id"])
    assert row.created_at == at
    assert (row.client_request_id, row.input_tokens, row.output_tokens, row.audio_seconds, row.characters) == (
        "client-7",
        11,
        22,
        1.5,
        33,
    )
    assert (row.cost, row.status, row.latency_ms, row.cache_hit, row.key_id) == (44, 200, 120, True, None)
    daily = UsageDaily.objects.get(organization_id=organization.pk)
    assert (daily.day, daily.requests, daily.cost, daily.input_tokens) == (at.date(), 1, 44, 11)


def test_a_request_id_twice_in_one_batch_is_one_event_charged_once(organization):
    CreditAccount.objects.create(organization=organization)
    event = usage_event_for_tests(organization_id=organization.pk, cost=5)

    assert usage_events_insert(events=[event, dict(event)]) == 1

    assert UsageEvent.objects.count() == 1
    assert CreditAccount.objects.get(organization=organization).balance == -5
    assert UsageDaily.objects.get().requests == 1


def test_a_status_or_latency_out_of_the_columns_range_is_clamped_not_a_failed_batch(organization):
    events = [
        usage_event_for_tests(organization_id=organization.pk, status=10**6, latency_ms=-4),
        usage_event_for_tests(organization_id=organization.pk, status=-1, latency_ms=7),
    ]

    assert usage_events_insert(events=events) == 2

    rows = {e.request_id: (e.status, e.latency_ms) for e in UsageEvent.objects.all()}
    assert rows == {events[0]["request_id"]: (32767, 0), events[1]["request_id"]: (0, 7)}
    daily = UsageDaily.objects.get()  # rolled up as stored
    assert (daily.requests, daily.errors, daily.latency_ms_sum, daily.latency_ms_max) == (2, 1, 7, 7)


def test_an_empty_batch_writes_nothing(organization):
    assert usage_events_insert(events=[]) == 0
    assert not UsageEvent.objects.exists()


def test_the_request_id_has_one_index_the_unique_one(organization):
    """Every insert pays for every index: no LIKE index on it (PostgreSQL), which nothing queries."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, UsageEvent._meta.db_table)
    on_request_id = {name: c for name, c in constraints.items() if c["columns"] == ["request_id"]}
    assert len(on_request_id) == 1
    assert next(iter(on_request_id.values()))["unique"]


@pytest.mark.postgres
def test_a_batch_the_database_refuses_raises_django_s_database_error(organization):
    """The ledger writer counts failures by dependency, which it tells by Django's exception classes."""
    if connection.vendor != "postgresql":
        pytest.skip("the batch goes through PostgreSQL's json_to_recordset only on PostgreSQL")
    bad = {**usage_event_for_tests(organization_id=organization.pk), "cost": "not a number"}
    with pytest.raises(DatabaseError):
        usage_events_insert(events=[bad])
    assert not UsageEvent.objects.exists()
