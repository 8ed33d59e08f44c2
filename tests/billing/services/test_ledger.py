"""Writing the ledger: a batch is inserted as the events say, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest
from django.db import DatabaseError, connection

from accounts.services import organization_create
from billing.models import CreditAccount, UsageDaily, UsageEvent
from billing.services import usage_events_insert, usage_events_insert_encoded
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


def test_events_as_the_outbox_holds_them_are_recorded_as_decoded_ones(organization):
    """The writer hands over the outbox's JSON as it is: stored, rolled up and debited like the dicts."""
    other_organization = organization_create(name="Other", slug="other")
    CreditAccount.objects.create(organization=organization, balance=100)
    CreditAccount.objects.create(organization=other_organization, balance=100)
    at = dt.datetime(2026, 3, 4, 23, 59, 58, tzinfo=dt.UTC).timestamp()
    events = [
        usage_event_for_tests(organization_id=organization.pk, created_at=at, cost=7, key_id=3, latency_ms=40),
        usage_event_for_tests(organization_id=organization.pk, created_at=at, cost=5, key_id=3, status=502),
        usage_event_for_tests(organization_id=organization.pk, created_at=at + 3, cost=1, key_id=None),
        usage_event_for_tests(organization_id=other_organization.pk, created_at=at, cost=20),
    ]
    encoded = [msgspec.json.encode(event) for event in events]

    assert usage_events_insert_encoded(events=[*encoded, encoded[0]]) == 4
    assert usage_events_insert_encoded(events=encoded) == 0  # all recorded already: nothing charged twice

    balances = dict(CreditAccount.objects.values_list("organization_id", "balance"))
    assert balances == {organization.pk: 100 - 13, other_organization.pk: 100 - 20}
    daily = {
        (d.organization_id, d.day, d.key_id): (d.requests, d.errors, d.cost, d.latency_ms_sum, d.latency_ms_max)
        for d in UsageDaily.objects.all()
    }
    assert daily == {
        (organization.pk, dt.date(2026, 3, 4), 3): (2, 1, 12, 160, 120),
        (organization.pk, dt.date(2026, 3, 5), 0): (1, 0, 1, 120, 120),  # three seconds later: the next UTC day
        (other_organization.pk, dt.date(2026, 3, 4), 0): (1, 0, 20, 120, 120),
    }
    stored = UsageEvent.objects.get(request_id=events[0]["request_id"])
    assert (stored.created_at, stored.cost, stored.key_id) == (dt.datetime.fromtimestamp(at, dt.UTC), 7, 3)


def test_a_second_batch_adds_to_the_day_it_shares_with_the_first(organization):
    usage_events_insert(events=[usage_event_for_tests(organization_id=organization.pk, latency_ms=300, cost=2)])
    usage_events_insert_encoded(
        events=[msgspec.json.encode(usage_event_for_tests(organization_id=organization.pk, latency_ms=100, cost=3))]
    )

    daily = UsageDaily.objects.get()
    assert (daily.requests, daily.cost, daily.latency_ms_sum, daily.latency_ms_max) == (2, 5, 400, 300)
