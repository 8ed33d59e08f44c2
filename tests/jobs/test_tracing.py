"""A job's trace: the worker's spans and the webhook delivery join the request that submitted the job."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from opentelemetry.trace import SpanKind

from jobs.delivery import webhook_delivery_attempt
from jobs.models import WebhookDelivery
from tests.fixtures.tracing import Spans, hex_span, hex_trace
from tests.jobs.test_api import IMAGE, run_next_attempt

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_jobs_worker_spans_and_webhook_share_the_submitting_requests_trace(
    client, job_settings, spans: Spans, receiver
):
    submitted = await client.post("/v1/jobs", json={**IMAGE, "webhook": {"url": receiver.url}})
    assert submitted.status_code == 202
    job_id = submitted.json()["id"]
    submit = spans.one("POST v1/jobs")
    trace_id = hex_trace(submit)

    assert await run_next_attempt(job_id) == "succeeded"
    run = spans.one("mcp.job.run")
    assert run.kind == SpanKind.CONSUMER and hex_trace(run) == trace_id
    assert run.parent.span_id == submit.context.span_id
    assert run.attributes["mcp.job.id"] == job_id and run.attributes["mcp.job.result"] == "succeeded"
    attempt = spans.one("mcp.upstream.attempt")
    assert hex_trace(attempt) == trace_id and attempt.attributes["mcp.model"] == "flux"

    delivery = await WebhookDelivery.objects.filter(job_id=job_id, event_type="job.succeeded").afirst()
    await sync_to_async(webhook_delivery_attempt)(delivery_id=str(delivery.id))
    deliver = spans.named("mcp.webhook.deliver")[-1]
    assert hex_trace(deliver) == trace_id and deliver.kind == SpanKind.CLIENT
    assert deliver.attributes["http.response.status_code"] == 200
    headers = receiver.requests[-1][0]
    assert headers["traceparent"].startswith(f"00-{trace_id}-{hex_span(deliver)}-")
