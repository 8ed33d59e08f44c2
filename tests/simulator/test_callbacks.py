"""Callback mode: after answering, the simulator reports to a loopback URL, signed per Standard Webhooks."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from standardwebhooks import Webhook

from simulator.callbacks import Callbacks, sign, signed_headers
from simulator.errors import SimError
from tests.fixtures.simulator_server import run_simulator
from tests.simulator.conftest import SECRET_KEY
from tests.simulator.helpers import chat_body, unique

CALLBACK_SECRET = "whsec_" + base64.b64encode(b"simulator-callback-secret-32byte").decode()  # pragma: allowlist secret


class Inbox:
    """A loopback receiver that records each POST and answers 200."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                inbox.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int = 1, timeout: float = 10) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.received) >= count, "no callback arrived"
        return self.received


@pytest.fixture(scope="module")
def calling_simulator() -> Iterator[httpx.Client]:
    """A simulator process with callback mode enabled (``SIM_CALLBACK_SECRET``)."""
    with (
        run_simulator({"SIM_CALLBACK_SECRET": CALLBACK_SECRET}) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {SECRET_KEY}"}, timeout=10) as client,
    ):
        yield client


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    server = Inbox()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_the_signature_is_the_one_the_standard_webhooks_library_makes_and_verifies():
    body = b'{"job_id":"job-1","status":"succeeded"}'
    headers = signed_headers(CALLBACK_SECRET, body, message_id="msg_x", timestamp=int(time.time()))
    assert Webhook(CALLBACK_SECRET).verify(body, headers) == json.loads(body)
    at = Webhook(CALLBACK_SECRET).sign("msg_x", datetime.fromtimestamp(1_700_000_000), "b")
    assert sign(CALLBACK_SECRET, "msg_x", 1_700_000_000, b"b") == at


def test_after_answering_the_simulator_reports_the_answer_signed_to_the_callback(calling_simulator, inbox):
    answer = calling_simulator.post(
        "/v1/images/generations",
        json={"prompt": unique(), "response_format": "b64_json"},
        headers={"X-Sim-Callback": inbox.url, "X-Request-ID": "job-42"},
    )
    assert answer.status_code == 200
    headers, body = inbox.wait()[0]
    report = Webhook(CALLBACK_SECRET).verify(body, headers)
    assert (report["job_id"], report["status"], report["error"]) == ("job-42", "succeeded", "")
    assert report["content_type"] == "application/json"
    assert base64.b64decode(report["result_base64"]) == answer.content
    log = calling_simulator.get("/_sim/callbacks").json()["callbacks"]
    assert {"url": inbox.url, "job_id": "job-42", "status": "succeeded", "response_status": 200, "error": ""} in log


def test_a_failed_generation_is_reported_as_failed_and_the_job_header_wins(calling_simulator, inbox):
    calling_simulator.post(
        "/v1/chat/completions",
        json=chat_body(unique()),
        headers={
            "X-Sim-Callback": inbox.url,
            "X-Sim-Callback-Job": "job-7",
            "X-Request-ID": "r",
            "X-Sim-Fault": "status=503",
        },
    )
    headers, body = inbox.wait()[0]
    report = Webhook(CALLBACK_SECRET).verify(body, headers)
    assert (report["job_id"], report["status"], report["result_base64"]) == ("job-7", "failed", None)
    assert report["error"].startswith("upstream answered 503")


@pytest.mark.parametrize(
    ("headers", "body", "message"),
    [
        ({"X-Sim-Callback": "http://10.0.0.1/cb", "X-Request-ID": "j"}, chat_body("hi"), "loopback"),
        ({"X-Sim-Callback": "https://example.com/cb", "X-Request-ID": "j"}, chat_body("hi"), "loopback"),
        ({"X-Sim-Callback": "http://127.0.0.1:9/cb"}, chat_body("hi"), "job id"),
        ({"X-Sim-Callback": "http://127.0.0.1:9/cb", "X-Request-ID": "j"}, chat_body("hi", stream=True), "stream"),
    ],
)
def test_an_unusable_callback_request_is_refused_before_generating(calling_simulator, headers, body, message):
    response = calling_simulator.post("/v1/chat/completions", json=body, headers=headers)
    assert response.status_code == 400
    assert message in response.text


def test_without_a_secret_callback_mode_is_refused(gen):
    response = gen.post(
        "/v1/chat/completions",
        json=chat_body("hi"),
        headers={"X-Sim-Callback": "http://127.0.0.1:9/cb", "X-Request-ID": "j"},
    )
    assert response.status_code == 400 and "SIM_CALLBACK_SECRET" in response.text


def test_a_request_without_the_header_has_no_callback():
    assert Callbacks(CALLBACK_SECRET).target({}, wants_stream=False) is None
    with pytest.raises(SimError):
        Callbacks("").target({"x-sim-callback": "http://127.0.0.1/cb"}, wants_stream=False)
