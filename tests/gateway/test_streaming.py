"""Streaming through a real gateway process: chunks relayed as they arrive, disconnects propagate."""

from __future__ import annotations

import itertools
import json
import os
import time

import httpx
import pytest

from tests.fixtures.gateway_server import database_url_of_test_db, run_gateway
from tests.gateway.conftest import upstream_requests

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BODY = {
    "model": "openai",
    "messages": [{"role": "user", "content": "Tell me a long story about gateways"}],
    "stream": True,
}


@pytest.fixture
def live_gateway(gateway_settings, upstream_url, api_key):
    env = {
        "DATABASE_URL": database_url_of_test_db(),
        "POLLINATIONS_GEN_URL": upstream_url,
        "POLLINATIONS_IMAGE_URL": f"{upstream_url}/legacy/image",
        "POLLINATIONS_TEXT_URL": f"{upstream_url}/legacy/text",
        "MCP_FORWARD_HEADERS": "x-sim-fault",
    }
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    with (
        run_gateway(env) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30) as http,
    ):
        yield http


def _events_with_arrival_times(response: httpx.Response) -> list[tuple[float, str]]:
    events, buffer = [], ""
    for text in response.iter_text():
        now = time.monotonic()
        buffer += text
        while "\n\n" in buffer:
            event, buffer = buffer.split("\n\n", 1)
            if event.startswith("data: "):
                events.append((now, event[6:]))
    return events


def test_sse_chunks_reach_the_client_as_the_upstream_produces_them(live_gateway):
    headers = {"X-Sim-Fault": "stream-interval=80ms"}
    with live_gateway.stream("POST", "/v1/chat/completions", json=BODY, headers=headers) as response:
        assert response.status_code == 200
        events = _events_with_arrival_times(response)
    assert events[-1][1] == "[DONE]"
    gaps = [later[0] - earlier[0] for earlier, later in itertools.pairwise(events)]
    # Coalescing would deliver several events at once (gaps near zero); relaying keeps the upstream's pace.
    assert sum(1 for gap in gaps if gap >= 0.05) >= len(gaps) - 2


def test_a_client_that_disconnects_cancels_the_upstream_request(live_gateway, upstream):
    headers = {"X-Sim-Fault": "stream-interval=300ms"}
    with live_gateway.stream("POST", "/v1/chat/completions", json=BODY, headers=headers) as response:
        for line in response.iter_lines():
            if line.startswith("data: {"):
                break
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        [record] = upstream_requests(upstream, "/v1/chat/completions")
        if record["cancelled"]:
            break
        time.sleep(0.1)
    assert record["cancelled"] is True, record


def test_an_upstream_that_breaks_mid_stream_ends_the_stream_with_an_error_event(live_gateway):
    with live_gateway.stream(
        "POST", "/v1/chat/completions", json=BODY, headers={"X-Sim-Fault": "drop-mid-stream"}
    ) as response:
        assert response.status_code == 200
        events = [data for _, data in _events_with_arrival_times(response)]
    assert events[-1] != "[DONE]"
    assert json.loads(events[-1])["error"]["type"] == "upstream_error"


def test_readiness_and_metrics_answer_any_host_header(live_gateway):
    # Probes and Prometheus address the pod by IP: no ALLOWED_HOSTS entry for it.
    assert live_gateway.get("/healthz", headers={"Host": "10.1.2.3:8000"}).status_code == 200
    assert live_gateway.get("/metrics", headers={"Host": "10.1.2.3:8000"}).status_code == 200
    assert live_gateway.get("/readyz", headers={"Host": "10.1.2.3:8000"}).json()["status"] == "ok"
