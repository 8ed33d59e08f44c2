"""Retries, fallback between providers and circuit breakers: all before the first byte."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from gateway import dispatch
from plugins.models import ProviderConfig
from plugins.registry import reset_registry
from tests.fixtures.simulator_server import free_port
from tests.gateway.conftest import upstream_requests

pytestmark = pytest.mark.django_db(transaction=True)

BODY = {"model": "openai", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
async def dead_first():
    """An admin-configured provider for 'openai' with the best priority, on a port nobody listens on."""
    await ProviderConfig.objects.acreate(
        name="dead-first",
        kind="openai-compatible",
        priority=1,
        base_url=f"http://127.0.0.1:{free_port()}/v1",
        served_models={"openai": "text"},
    )
    reset_registry()


async def test_a_failing_provider_falls_back_to_the_next_one_serving_the_model(client, dead_first, upstream):
    response = await client.post("/v1/chat/completions", json=BODY)
    assert response.status_code == 200
    assert len(upstream_requests(upstream, "/v1/chat/completions")) == 1


async def test_repeated_failures_open_the_circuit_and_the_provider_is_skipped(client, dead_first):
    for _ in range(3):
        assert (await client.post("/v1/chat/completions", json=BODY)).status_code == 200
    assert dispatch.breaker_states()["dead-first"] == "opened"
    metrics = (await client.get("/metrics")).text
    assert 'mcp_provider_circuit_open{provider="dead-first"} 1.0' in metrics


async def test_a_5xx_is_retried_once_on_the_same_provider(client, upstream):
    response = await client.post("/v1/chat/completions", json=BODY, headers={"X-Sim-Fault": "status=502"})
    assert response.status_code == 502
    assert len(upstream_requests(upstream, "/v1/chat/completions")) == dispatch.ATTEMPTS_PER_PROVIDER


async def test_a_429_with_a_long_retry_after_is_not_retried_and_the_wait_is_passed_on(client, upstream):
    response = await client.post(
        "/v1/chat/completions", json=BODY, headers={"X-Sim-Fault": "status=429;retry-after=30"}
    )
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "upstream_rate_limited"
    assert response.headers["Retry-After"] == "30"
    assert len(upstream_requests(upstream, "/v1/chat/completions")) == 1


async def test_a_client_error_from_the_upstream_is_neither_retried_nor_counted_against_the_provider(client, upstream):
    for _ in range(dispatch.BREAKER_THRESHOLD + 1):
        response = await client.post("/v1/chat/completions", json=BODY, headers={"X-Sim-Fault": "status=400"})
        assert response.status_code == 400
    assert len(upstream_requests(upstream, "/v1/chat/completions")) == dispatch.BREAKER_THRESHOLD + 1
    assert dispatch.breaker_states().get("pollinations-text") == "closed"


async def test_an_upstream_that_hangs_times_out_and_the_caller_gets_a_clean_error(client):
    await ProviderConfig.objects.acreate(name="pollinations-text", kind="pollinations-text", read_timeout=1)
    reset_registry()
    started = time.monotonic()
    response = await client.post("/v1/chat/completions", json=BODY, headers={"X-Sim-Fault": "hang"})
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"
    assert time.monotonic() - started < 10


async def test_a_malformed_upstream_answer_is_a_502_not_a_broken_200(client):
    response = await client.post("/v1/chat/completions", json=BODY, headers={"X-Sim-Fault": "malformed"})
    assert response.status_code == 502
    assert response.json()["error"]["type"] == "upstream_error"


async def test_saving_a_provider_configuration_lets_calls_in_flight_finish_and_closes_the_old_pool_after(
    client, gateway_settings
):
    from asgiref.sync import sync_to_async

    from plugins import registry
    from plugins.services import provider_config_save

    await client.post("/v1/chat/completions", json=BODY)  # the registry in use, with an open pool
    [old] = [p for p in registry.current_registry().providers if p.name == "pollinations-text"]
    slow = asyncio.ensure_future(
        client.post(
            "/v1/chat/completions", json={**BODY, "stream": True}, headers={"X-Sim-Fault": "stream-interval=150ms"}
        )
    )
    while registry.in_flight(old) == 0:
        await asyncio.sleep(0.01)
    await sync_to_async(provider_config_save)(config=ProviderConfig(name="pollinations-text", kind="pollinations-text"))
    assert (await client.post("/v1/chat/completions", json=BODY)).status_code == 200  # reloads: a new registry
    assert registry.current_registry().providers != [old] and old not in registry.current_registry().providers
    assert old.pool._session is not None and not old.pool._session.closed, "the stream still runs on it"
    streamed = await slow
    assert streamed.text.rstrip().endswith("data: [DONE]"), "not cut by the configuration change"
    await asyncio.sleep(0.05)
    assert old.pool._session is None, "closed once its last call finished"


async def test_a_stream_that_outlives_its_deadline_ends_with_an_in_band_timeout(client, gateway_settings, upstream):
    gateway_settings.MCP_UPSTREAM_DEADLINES = {**gateway_settings.MCP_UPSTREAM_DEADLINES, "chat": 1.0}
    started = time.monotonic()
    response = await client.post(
        "/v1/chat/completions", json={**BODY, "stream": True}, headers={"X-Sim-Fault": "stream-interval=300ms"}
    )
    assert time.monotonic() - started < 3
    final = [line for line in response.text.split("\n") if line.startswith("data: ")][-1]
    assert json.loads(final[6:])["error"]["code"] == "upstream_timeout"
    assert len(upstream_requests(upstream, "/v1/chat/completions")) == 1


async def test_a_providers_deadline_option_overrides_the_default(client, gateway_settings):
    await ProviderConfig.objects.acreate(
        name="pollinations-text", kind="pollinations-text", options={"deadline_seconds": 1}
    )
    reset_registry()
    started = time.monotonic()
    response = await client.post("/v1/chat/completions", json=BODY, headers={"X-Sim-Fault": "latency=5s"})
    assert response.status_code == 504
    assert time.monotonic() - started < 3
