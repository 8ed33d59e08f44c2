"""Every upstream fault × every operation, streaming or not, against the simulator.

Each cell asserts what the client gets (status, error shape, in-band error), how long it took, how
many attempts the upstream saw (the simulator's request log), and the one ledger row the request
left with its status and charge. What is charged when something fails: docs/billing.md.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from urllib.parse import unquote

import pytest

from gateway.dispatch import ATTEMPTS_PER_PROVIDER
from tests.billing.conftest import _clean_billing_state, ledger_events, settle_and_flush  # noqa: F401
from tests.fixtures.asgi import http_scope
from tests.gateway.conftest import upstream_requests

pytestmark = pytest.mark.django_db(transaction=True)

#: Every operation's total deadline in these tests, so hangs and trickles end quickly.
DEADLINE = 2.0
#: Slack on top of the deadline for retries, backoff and a loaded machine.
SLACK = 3.0
RETRIED = ATTEMPTS_PER_PROVIDER


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    path: str
    upstream_path: str
    body: dict | None = None

    @property
    def streaming(self) -> bool:
        return bool(self.body and self.body.get("stream"))


CHAT = Operation(
    "chat",
    "POST",
    "/v1/chat/completions",
    "/v1/chat/completions",
    {"model": "openai", "messages": [{"role": "user", "content": "tell me about lighthouses"}]},
)
CHAT_STREAM = Operation(
    "chat-stream", "POST", "/v1/chat/completions", "/v1/chat/completions", {**CHAT.body, "stream": True}
)
IMAGE = Operation(
    "image",
    "POST",
    "/v1/images/generations",
    "/v1/images/generations",
    {"model": "flux", "prompt": "a lighthouse", "size": "64x64", "response_format": "b64_json"},
)
SPEECH = Operation(
    "speech",
    "POST",
    "/v1/audio/speech",
    "/v1/audio/speech",
    {"model": "openai-audio", "voice": "nova", "input": "the lighthouse keeper", "response_format": "mp3"},
)
NATIVE_IMAGE = Operation("native-image", "GET", "/image/a%20lighthouse?width=64&height=64", "/image/")
OPERATIONS = (CHAT, CHAT_STREAM, IMAGE, SPEECH, NATIVE_IMAGE)


@dataclass(frozen=True)
class Expected:
    """What one cell must show."""

    status: int  # the HTTP status the client gets
    code: str | None  # the error code (JSON body, or the final SSE event of a stream)
    ledger_status: int
    charged: bool
    attempts: int
    retry_after: str | None = None
    in_band: bool = False  # a 200 stream ended by an error event instead of [DONE]
    cut: bool = False  # a byte stream cut short


OK = Expected(200, None, 200, True, 1)
BAD_ANSWER = Expected(502, "upstream_error", 502, False, RETRIED)
TIMEOUT = Expected(504, "upstream_timeout", 504, False, 1)
CUT_TEXT = Expected(200, "upstream_error", 502, True, 1, in_band=True)
#: Broken right after the first event, which carries no text yet: nothing was delivered, nothing charged.
BROKEN_BEFORE_TEXT = Expected(200, "upstream_error", 502, False, 1, in_band=True)
CUT_MEDIA = Expected(200, None, 502, False, 1, cut=True)
TRICKLED_MEDIA = Expected(200, None, 504, False, 1, cut=True)
UNDETECTABLE = (
    "a body truncated and garbled inside its declared length and magic bytes is not detectable without decoding it"
)

# fault → operation name → expectation (a string: the cell is skipped for that reason)
MATRIX: dict[str, dict[str, Expected | str]] = {
    "": dict.fromkeys(("chat", "chat-stream", "image", "speech", "native-image"), OK),
    "status=500": dict.fromkeys(("chat", "chat-stream", "image", "speech", "native-image"), BAD_ANSWER),
    "status=503;retry-after=7": dict.fromkeys(
        ("chat", "chat-stream", "image", "speech", "native-image"),
        Expected(503, "upstream_unavailable", 503, False, 1, retry_after="7"),
    ),
    "status=429;retry-after=30": dict.fromkeys(
        ("chat", "chat-stream", "image", "speech", "native-image"),
        Expected(429, "upstream_rate_limited", 429, False, 1, retry_after="30"),
    ),
    "status=400": dict.fromkeys(
        ("chat", "chat-stream", "image", "speech", "native-image"), Expected(400, "upstream_rejected", 400, False, 1)
    ),
    "hang": dict.fromkeys(("chat", "chat-stream", "image", "speech", "native-image"), TIMEOUT),
    "error-object": dict.fromkeys(("chat", "chat-stream", "image", "speech", "native-image"), BAD_ANSWER),
    "malformed": {
        "chat": BAD_ANSWER,
        "chat-stream": BROKEN_BEFORE_TEXT,
        "image": BAD_ANSWER,
        "speech": UNDETECTABLE,
        "native-image": UNDETECTABLE,
    },
    "drop-mid-stream": {
        "chat": BAD_ANSWER,
        "chat-stream": CUT_TEXT,
        "image": BAD_ANSWER,
        "speech": CUT_MEDIA,
        "native-image": CUT_MEDIA,
    },
    "error-before-stream": {"chat-stream": BAD_ANSWER},
    "corrupt-media": {"image": BAD_ANSWER, "speech": BAD_ANSWER, "native-image": BAD_ANSWER},
    "trickle=150ms": {
        "chat": TIMEOUT,
        "chat-stream": TIMEOUT,
        "image": TIMEOUT,
        "speech": TRICKLED_MEDIA,
        "native-image": TRICKLED_MEDIA,
    },
}
CELLS = [
    pytest.param(
        fault,
        operation,
        expected,
        id=f"{fault or 'none'}-{operation.name}",
        marks=[pytest.mark.skip(reason=expected)] if isinstance(expected, str) else [],
    )
    for fault, row in MATRIX.items()
    for operation in OPERATIONS
    if (expected := row.get(operation.name)) is not None
]


@pytest.fixture
def short_deadlines(gateway_settings):
    gateway_settings.MCP_UPSTREAM_DEADLINES = dict.fromkeys(
        ("chat", "image", "speech", "transcription", "native"), DEADLINE
    )
    return gateway_settings


def _final_event(text: str) -> str:
    data = [line[6:] for line in text.split("\n") if line.startswith("data: ")]
    return data[-1] if data else ""


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    #: Whether the server ended the body properly (a cut byte stream never does).
    complete: bool

    def json(self):
        return json.loads(self.body)


async def _call(operation: Operation, api_key: str, fault: str) -> Answer:
    """Drive the real ASGI application directly, so a body that is cut short can be seen as such."""
    from mcp_site.asgi import application

    path, _, query = operation.path.partition("?")
    headers = {"authorization": f"Bearer {api_key}", "content-type": "application/json"}
    if fault:
        headers["x-sim-fault"] = fault
    scope = http_scope(
        operation.method,
        unquote(path),
        [(k.encode(), v.encode()) for k, v in headers.items()],
        query=query.encode(),
        raw_path=path.encode(),
    )
    payload = json.dumps(operation.body).encode() if operation.body is not None else b""
    answered = asyncio.Event()
    messages: list[dict] = []
    request_sent = False

    async def receive() -> dict:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": payload, "more_body": False}
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        messages.append(message)

    await application(scope, receive, send)
    answered.set()
    start, *body = messages
    return Answer(
        status=start["status"],
        headers={k.decode().lower(): v.decode() for k, v in start["headers"]},
        body=b"".join(m.get("body", b"") for m in body),
        complete=bool(body) and not body[-1].get("more_body", False),
    )


@pytest.mark.parametrize(("fault", "operation", "expected"), CELLS)
async def test_fault_matrix(client, api_key, upstream, short_deadlines, fault, operation, expected):
    started = time.monotonic()
    response = await _call(operation, api_key, fault)
    elapsed = time.monotonic() - started

    assert response.status == expected.status, response.body[:300]
    assert elapsed < DEADLINE + SLACK
    assert response.complete is not expected.cut
    if expected.status >= 400:
        error = response.json()["error"]
        assert set(error) == {"message", "type", "code", "param"}
        assert error["code"] == expected.code
        assert response.headers.get("retry-after") == expected.retry_after
    elif expected.in_band:
        final = _final_event(response.body.decode())
        assert final != "[DONE]"
        assert json.loads(final)["error"]["code"] == expected.code
    elif operation.streaming:
        assert _final_event(response.body.decode()) == "[DONE]"
    attempts = upstream_requests(upstream, operation.upstream_path)
    assert len(attempts) == expected.attempts, [a["status"] for a in attempts]

    await settle_and_flush()
    [event] = await ledger_events()
    assert event.status == expected.ledger_status
    assert (event.cost > 0) is expected.charged, (event.cost, event.usage_source)
    if expected.cut:
        assert event.images == 0 and event.characters == 0


async def test_a_cut_stream_is_charged_for_the_text_relayed_and_the_message_text_only(client, short_deadlines):
    response = await client.post(
        "/v1/chat/completions", json=CHAT_STREAM.body, headers={"X-Sim-Fault": "drop-mid-stream"}
    )
    relayed = "".join(
        (json.loads(data)["choices"] or [{}])[0].get("delta", {}).get("content") or ""
        for data in (line[6:] for line in response.text.split("\n") if line.startswith("data: {"))
        if "choices" in json.loads(data)
    )
    await settle_and_flush()
    [event] = await ledger_events()
    assert event.usage_source == "counted"
    prompt = CHAT.body["messages"][0]["content"]
    assert event.input_tokens == -(-len(prompt) // 4), "the messages' text, not their JSON encoding"
    assert event.output_tokens == -(-len(relayed) // 4)
