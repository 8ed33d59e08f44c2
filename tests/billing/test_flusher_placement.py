"""Where usage events are moved from the Redis outbox into PostgreSQL: gateway processes or a worker."""

from __future__ import annotations

import io
import json

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command

from billing import hotpath, ledger
from billing._stores import LEDGER_STREAM
from tests.billing.conftest import ledger_events
from tests.billing.test_durability import _event
from tests.conftest import require_env

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def outbox_event(organization):
    """One event written to the Redis outbox, as a gateway's settlement does."""
    require_env("REDIS_URL")
    store = hotpath.redis_store()
    assert store is not None
    event = _event("placement-1", organization.pk)
    client = store.client()
    return client, event


async def test_a_gateway_process_leaves_the_outbox_to_the_worker_when_told_to(settings, outbox_event):
    client, event = outbox_event
    await client.xadd(LEDGER_STREAM, {"e": json.dumps(event)})
    settings.BILLING_LEDGER_FLUSHER = "worker"
    await ledger.flush_tick()
    assert await ledger_events(request_id="placement-1") == []
    settings.BILLING_LEDGER_FLUSHER = "web"
    await ledger.flush_tick()
    assert [e.request_id for e in await ledger_events(request_id="placement-1")] == ["placement-1"]


async def test_the_worker_command_flushes_the_outbox_and_runs_the_periodic_jobs(outbox_event):
    client, event = outbox_event
    await client.xadd(LEDGER_STREAM, {"e": json.dumps(event)})
    out = io.StringIO()
    command = sync_to_async(call_command, thread_sensitive=False)
    await command("billing_flush_ledger", "--once", "--periodic-every", "60", stdout=out)
    assert "reconciled 0 reservations" in out.getvalue()
    assert "flushed 1 events" in out.getvalue()
    assert [e.request_id for e in await ledger_events(request_id="placement-1")] == ["placement-1"]
