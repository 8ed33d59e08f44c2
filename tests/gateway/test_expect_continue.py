"""``Expect: 100-continue``: a client asks before uploading its body, and a caller whose key will be
refused is told so (401) before it is invited to send the body, rather than after uploading it whole.

The server sends ``100 Continue`` when the application first asks for the body (ASGI ``receive``),
so these tests call the application directly and watch whether it asks.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.fixtures.asgi import http_scope

pytestmark = pytest.mark.django_db(transaction=True)

BODY = json.dumps({"model": "openai", "messages": [{"role": "user", "content": "hi"}]}).encode()


async def call(path: str, headers: list[tuple[bytes, bytes]], query: bytes = b"") -> tuple[int, dict, int]:
    """The answer's status and JSON body, and how many times the application asked for the body.

    The answer's headers are kept in :data:`LAST_HEADERS`."""
    from mcp_site.asgi import application

    asked = 0
    sent: list[dict] = []
    answered = asyncio.Event()

    async def receive():
        nonlocal asked
        asked += 1
        if asked == 1:
            return {"type": "http.request", "body": BODY, "more_body": False}
        await answered.wait()  # as a server does: nothing more until the client leaves
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            answered.set()

    scope = http_scope(
        "POST",
        path,
        [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BODY)).encode()),
            *headers,
        ],
        query=query,
    )
    await application(scope, receive, send)
    status = sent[0]["status"]
    LAST_HEADERS.clear()
    LAST_HEADERS.update((name.lower(), value) for name, value in sent[0]["headers"])
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return status, json.loads(body) if body.startswith(b"{") else {}, asked


EXPECT = (b"expect", b"100-continue")
LAST_HEADERS: dict[bytes, bytes] = {}


@pytest.mark.parametrize(
    ("path", "credentials"),
    [
        ("/v1/chat/completions", []),
        ("/v1/audio/transcriptions", [(b"authorization", b"Bearer mgw_not-a-key")]),
        ("/v1/jobs", [(b"x-api-key", b"mgw_not-a-key")]),
        ("/text", [(b"authorization", b"Bearer mgw_not-a-key")]),
    ],
)
async def test_a_refused_key_is_answered_401_before_the_body_is_asked_for(gateway_settings, path, credentials):
    status, answer, asked = await call(path, [EXPECT, *credentials])
    assert status == 401
    assert answer["error"]["code"] == "invalid_api_key"
    assert asked == 0
    # The body the client then does not send could not be told from its next request: the connection ends.
    assert LAST_HEADERS[b"connection"] == b"close"
    assert b"x-request-id" in LAST_HEADERS


async def test_a_refused_key_in_the_query_is_answered_before_the_body_too(gateway_settings):
    status, _, asked = await call("/text", [EXPECT], query=b"key=mgw_not-a-key")
    assert (status, asked) == (401, 0)


async def test_a_valid_key_is_invited_to_send_its_body_and_served(gateway_settings, api_key):
    status, answer, asked = await call(
        "/v1/chat/completions", [EXPECT, (b"authorization", f"Bearer {api_key}".encode())]
    )
    assert status == 200, answer
    assert asked >= 1


async def test_without_expect_the_body_is_read_first_as_before(gateway_settings):
    status, _, asked = await call("/v1/chat/completions", [(b"authorization", b"Bearer mgw_not-a-key")])
    assert status == 401
    assert asked >= 1
