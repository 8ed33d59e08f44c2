"""The web role's HTTP protocol bounds a request's head, in size and in time, and refuses in the error shape.

A real uvicorn server with the protocol, on a loopback port, in the test's event loop; the clients
are raw sockets, so nothing between them and the server fixes what they send.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import pytest
import uvicorn

from mcp_site import http_protocol
from mcp_site.http_protocol import MAX_HEAD_BYTES, GatewayHttpProtocol
from tests.fixtures.simulator_server import free_port


async def app(scope, receive, send):
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})
        return
    if scope["type"] != "http":
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": f"read {size}".encode()})


@contextlib.asynccontextmanager
async def serving(**config) -> AsyncIterator[int]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, http=GatewayHttpProtocol, lifespan="off", log_level="error", **config
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


async def exchange(port: int, *parts: bytes, pause: float = 0.0) -> bytes:
    """Send ``parts`` (``pause`` seconds apart) and read until the server closes or 5 s pass."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for part in parts:
            if reader.at_eof():
                break  # the server has answered and closed its end: what it said is waiting
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(pause)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                return await reader.read(-1)
        return b"(still open)"
    finally:
        writer.close()


def error_of(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower()
    return int(head.split()[1]), json.loads(body)["error"]


def get(path: str = "/", headers: bytes = b"") -> bytes:
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" + headers + b"\r\n"


async def test_a_head_larger_than_the_bound_is_refused_with_431_in_the_error_shape():
    async with serving() as port:
        big = b"X-Big: " + b"a" * MAX_HEAD_BYTES + b"\r\n"
        status, error = error_of(await exchange(port, get(headers=big)))
        assert status == 431
        assert error["code"] == "request_header_fields_too_large"

        # Just under the bound is served.
        fits = b"X-Fits: " + b"a" * (MAX_HEAD_BYTES - 1024) + b"\r\n"
        assert (await exchange(port, get(headers=fits))).startswith(b"HTTP/1.1 200")


async def test_a_head_that_never_ends_is_cut_off_at_the_bound_not_buffered():
    async with serving() as port:
        endless = [get().rstrip(b"\r\n") + b"\r\n"] + [b"X-More: " + b"b" * 8000 + b"\r\n"] * 40
        answer = await exchange(port, *endless)
        assert error_of(answer)[0] == 431


async def test_a_body_sent_with_its_head_does_not_count_against_the_head_bound():
    async with serving() as port:
        body = b"z" * (4 * MAX_HEAD_BYTES)
        request = (
            b"POST / HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
        answer = await exchange(port, request)
        assert answer.startswith(b"HTTP/1.1 200")
        assert f"read {len(body)}".encode() in answer


async def test_a_malformed_request_gets_400_in_the_error_shape():
    async with serving() as port:
        status, error = error_of(await exchange(port, b"GET / HTTP/1.1\r\nHost t\r\n\r\n"))
        assert (status, error["code"], error["type"]) == (400, "invalid_request", "invalid_request_error")


async def test_a_head_trickled_past_the_deadline_gets_408_and_a_silent_connection_is_closed(monkeypatch):
    monkeypatch.setattr(http_protocol, "HEAD_SECONDS", 1.0)
    async with serving() as port:
        trickle = [b"GET / HTTP/1.1\r\n"] + [b"X-Slow: 1\r\n"] * 10
        status, error = error_of(await exchange(port, *trickle, pause=0.3))
        assert (status, error["code"]) == (408, "request_timeout")

        assert await exchange(port) == b""  # nothing sent: closed without an answer


async def test_a_kept_alive_connection_may_wait_longer_than_the_head_deadline_between_requests(monkeypatch):
    monkeypatch.setattr(http_protocol, "HEAD_SECONDS", 1.0)
    async with serving(timeout_keep_alive=10) as port:
        first = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
        answer = await exchange(port, first, get(), pause=2.5)
        assert answer.count(b"HTTP/1.1 200") == 2


async def test_a_websocket_upgrade_leaves_no_connection_behind_in_the_sweep():
    async with serving(ws="websockets-sansio") as port:
        handshake = (
            b"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(handshake)
        assert (await reader.readline()).startswith(b"HTTP/1.1 101")
        writer.close()
        await asyncio.sleep(0.1)
        assert not http_protocol._HeadSweep.of(asyncio.get_running_loop()).connections


@pytest.mark.parametrize("path", ["/", "/a/b?c=d"])
async def test_an_ordinary_request_is_served_as_before(path):
    async with serving() as port:
        assert (await exchange(port, get(path))).startswith(b"HTTP/1.1 200")


async def test_many_short_headers_count_with_their_separators_against_the_head_bound():
    # 30,000 headers "a:" are 120 KB on the wire though their names and values are only 30 KB.
    async with serving() as port:
        status, error = error_of(await exchange(port, get(headers=b"a:\r\n" * 30_000)))
        assert (status, error["code"]) == (431, "request_header_fields_too_large")


class FakeTransport(asyncio.Transport):
    """A transport that records what is written, so that a test decides exactly what one read holds."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def get_extra_info(self, name, default=None):
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def write(self, data) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def feed(*reads: bytes) -> bytes:
    """What the protocol answers to ``reads``, each handed to it as one read of the socket."""
    from uvicorn.server import ServerState

    config = uvicorn.Config(app, lifespan="off", log_level="error")
    protocol = GatewayHttpProtocol(config=config, server_state=ServerState(), app_state={})
    transport = FakeTransport()
    protocol.connection_made(transport)
    for data in reads:
        protocol.data_received(data)
        await asyncio.sleep(0.05)
    protocol.connection_lost(None)
    return bytes(transport.written)


async def test_a_pipelined_body_read_with_the_next_head_does_not_count_against_that_head():
    body = b"z" * (2 * MAX_HEAD_BYTES)
    post = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    # The body and the start of the next head come in one read, the rest of that head in the next.
    answer = await feed(post + b"GET / HTTP/1.1\r\nHost: t\r\n", b"Connection: close\r\n\r\n")
    assert answer.count(b"HTTP/1.1 200") == 2, answer[:300]
    assert f"read {len(body)}".encode() in answer


async def test_a_pipelined_head_that_grows_past_the_bound_is_still_refused():
    first = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
    half = b"X-Big: " + b"a" * (MAX_HEAD_BYTES // 2)
    answer = await feed(first + b"GET / HTTP/1.1\r\nHost: t\r\n" + half, half, half)
    assert answer.startswith(b"HTTP/1.1 200")
    assert error_of(answer[answer.index(b"HTTP/1.1 431") :])[0] == 431


@pytest.mark.parametrize(
    "after",
    [
        b"NOT HTTP\x00\r\n\r\n",  # a pipelined request that cannot be read
        b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * (MAX_HEAD_BYTES + 10) + b"\r\n\r\n",  # one too large
    ],
)
async def test_a_refused_request_is_answered_after_the_requests_before_it(after):
    async with serving() as port:
        first = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
        answer = await exchange(port, first + first + after)
        statuses = [line.split()[1] for line in answer.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]
        assert statuses[:2] == [b"200", b"200"], answer[:500]
        assert statuses[2] in (b"400", b"431")
        assert answer.endswith(b"}")  # the refusal, whole and last


async def test_a_body_longer_than_its_content_length_gets_the_answer_to_the_request_first():
    # The bytes past Content-Length are read as the next request, which is not HTTP.
    async with serving() as port:
        request = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n" + b'{"a": 1, "b": 2}'
        answer = await exchange(port, request)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
        assert b"read 5" in answer
        assert error_of(answer[answer.index(b"HTTP/1.1 400") :])[0] == 400


async def test_an_http_1_1_request_without_a_host_header_is_refused_with_400():
    async with serving() as port:
        status, error = error_of(await exchange(port, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"))
        assert (status, error["code"], error["param"]) == (400, "invalid_host", "Host")
        # HTTP/1.0 has no Host requirement; with one, HTTP/1.1 is served as ever.
        assert (await exchange(port, b"GET / HTTP/1.0\r\n\r\n")).startswith(b"HTTP/1.1 200")
        assert (await exchange(port, get())).startswith(b"HTTP/1.1 200")


async def test_the_protocols_own_refusals_carry_a_request_id_like_every_answer():
    async with serving() as port:
        malformed = await exchange(port, b"GET / HTTP/1.1\r\nHost t\r\n\r\n")
        too_large = await exchange(
            port, get(headers=b"X-Request-ID: mine-1\r\nX-Big: " + b"a" * MAX_HEAD_BYTES + b"\r\n")
        )
    assert error_of(malformed)[0] == 400
    [sent_id] = [line for line in malformed.split(b"\r\n") if line.lower().startswith(b"x-request-id: ")]
    assert len(sent_id.split(b": ")[1]) == 32  # a fresh one
    assert error_of(too_large)[0] == 431
    assert b"x-request-id: mine-1\r\n" in too_large.lower()  # the client's own, when it sent a sane one
