"""Job and webhook metrics observed where the work happens (the worker), as histograms and counters."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from core.crypto import encrypt
from jobs.delivery import webhook_delivery_attempt
from jobs.models import Job, WebhookDelivery
from jobs.services import webhook_deliveries_create, webhook_secret_generate
from tests.jobs.test_api import IMAGE, run_next_attempt

pytestmark = pytest.mark.django_db(transaction=True)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_an_attempt_observes_its_wait_and_its_run_time_by_kind_and_result(client, job_settings):
    waits = sample("mcp_jobs_wait_seconds_count", kind="image")
    runs = sample("mcp_jobs_run_seconds_count", kind="image", result="succeeded")
    job_id = (await client.post("/v1/jobs", json=IMAGE)).json()["id"]
    assert await run_next_attempt(job_id) == "succeeded"
    assert sample("mcp_jobs_wait_seconds_count", kind="image") == waits + 1
    assert sample("mcp_jobs_run_seconds_count", kind="image", result="succeeded") == runs + 1


def test_a_delivered_webhook_counts_its_attempt_and_its_lag(organization, receiver, job_settings):
    job = Job.objects.create(
        organization=organization,
        kind="image",
        model="flux",
        status="succeeded",
        webhook_url=receiver.url,
        webhook_secret=encrypt(webhook_secret_generate()),
    )
    [first, second] = [webhook_deliveries_create(job=job, event_type="job.succeeded")[0] for _ in range(2)]
    delivered, failed = (
        sample("mcp_webhook_delivery_attempts_total", result="delivered"),
        sample("mcp_webhook_delivery_attempts_total", result="failed"),
    )
    lags, gave_up = sample("mcp_webhook_delivery_lag_seconds_count"), sample("mcp_webhook_deliveries_failed_total")
    assert webhook_delivery_attempt(delivery_id=str(first.id)).status == WebhookDelivery.Status.SUCCEEDED
    receiver.statuses = [500]
    job_settings.WEBHOOKS_RETRY_DELAYS = []
    assert webhook_delivery_attempt(delivery_id=str(second.id)).status == WebhookDelivery.Status.FAILED
    assert sample("mcp_webhook_delivery_attempts_total", result="delivered") == delivered + 1
    assert sample("mcp_webhook_delivery_attempts_total", result="failed") == failed + 1
    assert sample("mcp_webhook_delivery_lag_seconds_count") == lags + 1
    assert sample("mcp_webhook_deliveries_failed_total") == gave_up + 1
