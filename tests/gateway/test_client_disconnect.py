"""A client that leaves before the answer starts: a real socket, closed, against a real gateway process.

The upstream call is cancelled at once (the simulator sees the connection go), never retried, never
counted against the provider, and the ledger records 499 with no charge.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from billing.models import UsageEvent
from core.breakers import BREAKER_THRESHOLD
from tests.fixtures.gateway_server import database_url_of_test_db, gateway_env, run_gateway
from tests.gateway.conftest import upstream_requests

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BODY = {"model": "openai", "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture
def gateway_url(gateway_settings, upstream_url):
    env = gateway_env(
        database_name=None,
        upstream_url=upstream_url,
        DATABASE_URL=database_url_of_test_db(),
        BILLING_LEDGER_FLUSH_MS="200",
    )
    with run_gateway(env) as url:
        yield url


def _send_and_leave(url: str, api_key: str, body: dict, fault: str, *, stay: float) -> None:
    """Write a whole request on a raw socket, wait ``stay`` seconds without reading, then close it."""
    parts = urlsplit(url)
    payload = json.dumps(body).encode()
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {parts.hostname}\r\nAuthorization: Bearer {api_key}\r\n"
        f"Content-Type: application/json\r\nX-Sim-Fault: {fault}\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(request)
        time.sleep(stay)
        sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):  # raised when nothing arrived: the expected case
            assert not sock.recv(1), "nothing must have been answered yet"


def _wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.1)
    return predicate()


def test_a_client_leaving_before_the_headers_cancels_the_upstream_call_at_once_and_is_recorded_as_499(
    gateway_url, upstream, api_key
):
    left = time.monotonic()
    _send_and_leave(gateway_url, api_key, BODY, "hang", stay=0.5)
    assert _wait_for(lambda: [r for r in upstream_requests(upstream, "/v1/chat/completions") if r["cancelled"]])
    assert time.monotonic() - left < 5, "the upstream call is cancelled when the client leaves, not at a timeout"
    time.sleep(0.5)
    assert len(upstream_requests(upstream, "/v1/chat/completions")) == 1, "never retried for a departed client"
    [event] = _wait_for(lambda: list(UsageEvent.objects.filter(operation="chat")))
    assert event.status == 499
    assert event.cost == 0
    assert event.usage_source == "none"


def test_clients_that_leave_never_open_the_providers_circuit(gateway_url, upstream, api_key):
    for _ in range(BREAKER_THRESHOLD + 1):
        _send_and_leave(gateway_url, api_key, BODY, "latency=3s", stay=0.3)
    _wait_for(
        lambda: (
            len([r for r in upstream_requests(upstream, "/v1/chat/completions") if r["cancelled"]]) > BREAKER_THRESHOLD
        )
    )
    assert len(upstream_requests(upstream, "/v1/chat/completions")) == BREAKER_THRESHOLD + 1
    with httpx.Client(base_url=gateway_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=10) as http:
        circuits = http.get("/readyz").json()["checks"]["circuit_breakers"]
        assert circuits["open"] == []
        assert http.post("/v1/chat/completions", json=BODY).status_code == 200
    events = _wait_for(lambda: list(UsageEvent.objects.filter(operation="chat", status=200)))
    assert UsageEvent.objects.filter(operation="chat", status=499).count() == BREAKER_THRESHOLD + 1
    assert events
