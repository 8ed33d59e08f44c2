"""Reconciliation settles the holds of dead processes (by their heartbeat) and charges a job once."""

from __future__ import annotations

import json
import time

import pytest

from billing import heartbeat
from billing._stores import HOLDS_KEY, credit_key, hold_record
from billing.models import UsageEvent
from billing.services import holds_reconcile, reconcile, usage_events_insert
from billing.types import Admission
from core.redis_clients import sync_client
from tests.billing.test_durability import _event
from tests.conftest import require_env

pytestmark = pytest.mark.postgres


@pytest.fixture
def redis_client(transactional_db):
    require_env("REDIS_URL")
    client = sync_client()
    keys = [*client.scan_iter("mcp:bill:*", count=1000)]
    if keys:
        client.delete(*keys)
    return client


def _hold(client, ledger_id: str, organization_id: int, *, process: str, age: float, charge_id: str = "") -> None:
    admission = Admission(
        ledger_id=ledger_id,
        organization_id=organization_id,
        rules=(),
        estimate=700,
        credit_enforced=True,
        provider="pollinations-image",
        key_id=11,
        user_id=12,
        charge_id=charge_id,
        process_id=process,
        client_request_id=f"client-{ledger_id}",
        model="flux",
        operation="image",
        modality="image",
    )
    data = json.loads(hold_record(admission))
    data["t"] = time.time() - age  # taken that long ago
    client.hset(HOLDS_KEY, ledger_id, json.dumps(data))
    client.hset(credit_key(organization_id), mapping={"cap": 10_000, "used": 0, "held": 0})
    client.hincrby(credit_key(organization_id), "held", 700)


def _reconcile_confirmed(monkeypatch) -> int:
    """Two passes, the second confirming the first's suspicion (no wait: confirmation time zero)."""
    monkeypatch.setattr(reconcile, "CONFIRM_SECONDS", 0)
    return holds_reconcile() + holds_reconcile()


def test_holds_of_a_process_without_heartbeat_are_settled_with_their_ids(redis_client, organization, monkeypatch):
    _hold(redis_client, "dead-1", organization.pk, process="gone-1", age=heartbeat.TTL_SECONDS + 1)
    assert _reconcile_confirmed(monkeypatch) == 1
    row = UsageEvent.objects.get(request_id="dead-1")
    assert (row.key_id, row.user_id, row.client_request_id) == (11, 12, "client-dead-1")
    assert (row.status, row.usage_source, row.cost, row.model) == (0, "estimated", 700, "flux")
    assert redis_client.hlen(HOLDS_KEY) == 0
    assert int(redis_client.hget(credit_key(organization.pk), "held")) == 0
    assert int(redis_client.hget(credit_key(organization.pk), "used")) == 700


def test_holds_of_a_living_process_wait_until_they_are_stale(redis_client, organization, monkeypatch):
    redis_client.set(heartbeat.key_of("alive-1"), "1", ex=heartbeat.TTL_SECONDS)
    _hold(redis_client, "slow-1", organization.pk, process="alive-1", age=60)
    assert _reconcile_confirmed(monkeypatch) == 0
    assert redis_client.hexists(HOLDS_KEY, "slow-1")
    assert holds_reconcile(older_than=30) == 1  # BILLING_HOLD_STALE_SECONDS still bounds every hold


def test_a_process_missing_once_is_not_taken_for_dead_before_confirmation(redis_client, organization):
    _hold(redis_client, "blip-1", organization.pk, process="blip", age=heartbeat.TTL_SECONDS + 1)
    assert holds_reconcile() == 0  # suspect now, settled only if still missing CONFIRM_SECONDS later
    assert redis_client.hexists(HOLDS_KEY, "blip-1")


def test_a_dead_job_attempt_is_released_without_a_charge_when_the_job_was_charged(
    redis_client, organization, monkeypatch
):
    usage_events_insert(events=[_event("job-abc", organization.pk, cost=900)])
    _hold(redis_client, "job-abc-1", organization.pk, process="gone-2", age=60, charge_id="job-abc")
    assert _reconcile_confirmed(monkeypatch) == 1
    assert list(UsageEvent.objects.filter(request_id__startswith="job-abc").values_list("request_id", "cost")) == [
        ("job-abc", 900)
    ]
    assert int(redis_client.hget(credit_key(organization.pk), "held")) == 0
    assert int(redis_client.hget(credit_key(organization.pk), "used")) == 0


def test_a_dead_job_attempt_of_an_uncharged_job_is_charged_under_the_job_id_once(
    redis_client, organization, monkeypatch
):
    _hold(redis_client, "job-def-1", organization.pk, process="gone-3", age=60, charge_id="job-def")
    assert _reconcile_confirmed(monkeypatch) == 1
    # The job's later success is recorded under the same id: the ledger keeps the first, so one charge.
    usage_events_insert(events=[_event("job-def", organization.pk, cost=900)])
    rows = list(UsageEvent.objects.filter(request_id__startswith="job-def").values_list("request_id", "cost"))
    assert rows == [("job-def", 700)]


def test_a_dead_request_replayed_by_the_load_balancer_is_billed_once(redis_client, organization, monkeypatch):
    _hold(redis_client, "cut-1", organization.pk, process="gone-4", age=60)
    replay = {"key_id": 11, "client_request_id": "client-cut-1", "created_at": time.time() - 59}
    usage_events_insert(events=[{**_event("served-1", organization.pk, cost=300), **replay}])
    assert _reconcile_confirmed(monkeypatch) == 1
    assert list(UsageEvent.objects.filter(client_request_id="client-cut-1").values_list("request_id", flat=True)) == [
        "served-1"
    ]
