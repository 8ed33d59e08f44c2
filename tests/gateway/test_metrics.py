"""Operator metrics of proxied requests: per provider and model, bounded labels."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from billing import metrics as billing_metrics

pytestmark = pytest.mark.django_db(transaction=True)

CHAT = {"model": "openai", "messages": [{"role": "user", "content": "count me"}]}


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def provider_counts(provider: str, model: str) -> tuple[float, float, float]:
    labels = {"provider": provider, "model": model}
    return (
        sample("mcp_provider_requests_total", **labels, status_class="2xx"),
        sample("mcp_provider_request_duration_seconds_count", **labels),
        sample("mcp_provider_time_to_first_byte_seconds_count", **labels),
    )


async def test_a_completion_counts_one_request_its_latency_and_its_first_byte_per_provider_and_model(client):
    before = provider_counts("pollinations-text", "openai")
    for stream in (False, True):
        response = await client.post("/v1/chat/completions", json={**CHAT, "stream": stream})
        assert response.status_code == 200
    after = provider_counts("pollinations-text", "openai")
    assert [a - b for a, b in zip(after, before, strict=True)] == [2, 2, 2]


async def test_an_upstream_failure_is_counted_as_5xx_for_its_provider(client):
    before = sample("mcp_provider_requests_total", provider="pollinations-text", model="openai", status_class="5xx")
    stream = {**CHAT, "stream": True}
    response = await client.post("/v1/chat/completions", json=stream, headers={"X-Sim-Fault": "drop-mid-stream"})
    assert '"upstream_error"' in response.text
    after = sample("mcp_provider_requests_total", provider="pollinations-text", model="openai", status_class="5xx")
    assert after == before + 1


async def test_a_malformed_answer_caught_before_relaying_is_counted_as_a_failure_of_its_provider(client):
    before = sample("mcp_provider_failures_total", provider="pollinations-text", retryable="true")
    response = await client.post("/v1/chat/completions", json=CHAT, headers={"X-Sim-Fault": "malformed"})
    assert response.status_code == 502
    assert sample("mcp_provider_failures_total", provider="pollinations-text", retryable="true") == before + 1


async def test_an_unknown_model_adds_no_series(client):
    response = await client.post("/v1/chat/completions", json={**CHAT, "model": "no-such-model-xyz"})
    assert response.status_code == 404
    names = {s.labels.get("model") for m in REGISTRY.collect() for s in m.samples}
    assert "no-such-model-xyz" not in names


async def test_admissions_are_counted_and_credits_spent_are_counted_per_organisation(client, organization):
    admitted = sum(sample("mcp_billing_admissions_total", store=s) for s in ("redis", "local"))
    await client.post("/v1/chat/completions", json=CHAT)
    assert sum(sample("mcp_billing_admissions_total", store=s) for s in ("redis", "local")) == admitted + 1
    assert billing_metrics.organization_label(organization.id) == str(organization.id)


def test_organisations_past_the_series_cap_are_counted_as_other(monkeypatch):
    monkeypatch.setattr(billing_metrics, "_organizations", set())
    monkeypatch.setattr(billing_metrics, "MAX_ORGANIZATION_SERIES", 2)
    before = sample("mcp_billing_credits_spent_total", organization="other")
    for organization_id in (901, 902, 903, 904):
        billing_metrics.observe_credits_spent(organization_id, 2_500_000)
    assert sample("mcp_billing_credits_spent_total", organization="901") >= 2.5
    assert sample("mcp_billing_credits_spent_total", organization="other") == before + 5.0
    assert billing_metrics.organization_label(903) == "other"
