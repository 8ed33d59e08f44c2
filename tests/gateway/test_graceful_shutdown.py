"""Stopping a gateway process (SIGTERM, as Kubernetes does on every rollout) lets the requests it is
serving finish: a client waiting for a slow upstream still gets its whole answer, buffered or
streamed, each is billed once, and the process exits cleanly."""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from asgiref.sync import async_to_sync

from billing.models import UsageEvent
from tests.billing.conftest import settle_and_flush
from tests.fixtures.gateway_server import database_url_of_test_db, gateway_env, run_gateway
from tests.gateway.conftest import upstream_requests

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

#: The upstream thinks this long before answering: long enough to stop the gateway meanwhile.
UPSTREAM_LATENCY = "latency=1500ms"


@pytest.fixture
def gateway_url(gateway_settings, upstream_url):
    env = gateway_env(database_name=None, upstream_url=upstream_url, DATABASE_URL=database_url_of_test_db())
    with run_gateway(env) as url:
        yield url


def chat(url: str, api_key: str, *, stream: bool) -> tuple[int, str]:
    response = httpx.post(
        f"{url}/v1/chat/completions",
        json={"model": "openai", "messages": [{"role": "user", "content": "hi"}], "stream": stream},
        headers={"Authorization": f"Bearer {api_key}", "X-Sim-Fault": UPSTREAM_LATENCY},
        timeout=30,
    )
    return response.status_code, response.text


def test_requests_in_flight_finish_when_the_gateway_is_stopped(gateway_url, api_key, upstream):
    process = run_gateway.processes[gateway_url]
    with ThreadPoolExecutor(4) as pool:
        calls = [pool.submit(chat, gateway_url, api_key, stream=n % 2 == 1) for n in range(4)]
        deadline = time.monotonic() + 10
        while len(upstream_requests(upstream)) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(upstream_requests(upstream)) == 4  # all four are waiting for the upstream now
        process.send_signal(signal.SIGTERM)  # to the server's main process only, as Kubernetes does (PID 1)
        answers = [call.result() for call in calls]

    # Stopped by the signal once everything in flight was answered: uvicorn re-raises the signal it
    # stopped on after a graceful shutdown, so the status says which signal ended it.
    assert process.wait(timeout=20) == -signal.SIGTERM
    buffered, streamed = answers[0::2], answers[1::2]
    for status, body in buffered:
        assert status == 200, body[:300]
        assert '"chat.completion"' in body
    for status, body in streamed:
        assert status == 200, body[:300]
        assert body.rstrip().endswith("data: [DONE]")

    # Settled before the process exited: every answer is in the ledger exactly once.
    async_to_sync(settle_and_flush)()
    assert UsageEvent.objects.filter(status=200).count() == 4
