"""How an upstream call's failures reach the gateway: each one an UpstreamError that says whether to retry
and what the caller sees, whatever the transport underneath raised."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import pytest

from plugins.errors import UpstreamError
from plugins.http import SessionPool, send


@contextlib.asynccontextmanager
async def answering(raw: bytes) -> AsyncIterator[str]:
    """A loopback server that reads one request head and writes ``raw``; yields its base URL."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(raw)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


async def failure(pool: SessionPool, url: str, headers: dict[str, str] | None = None) -> UpstreamError:
    with pytest.raises(UpstreamError) as caught:
        await send(pool, "POST", url, headers=headers or {}, data=b"{}")
    return caught.value


async def test_a_header_that_cannot_be_sent_is_the_gateway_s_502_and_never_retried():
    pool = SessionPool(connect_timeout=1.0, read_timeout=1.0)
    async with answering(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") as url:
        error = await failure(pool, url + "/v1/chat", {"X-Forwarded": "one\r\nInjected: two"})
    assert (error.client_status, error.retryable, error.unreachable) == (502, False, False)
    assert "Injected" not in str(error)  # what was refused is not echoed back to the caller
    await pool.aclose()


async def test_no_server_is_unreachable_and_retryable():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, never listening: the connection is refused
        pool = SessionPool(connect_timeout=1.0, read_timeout=1.0)
        error = await failure(pool, f"http://127.0.0.1:{port}/v1/chat")
    assert (error.retryable, error.unreachable, error.timeout) == (True, True, False)
    await pool.aclose()


async def test_a_silent_upstream_is_a_retryable_timeout():
    with socket.create_server(("127.0.0.1", 0)) as silent:
        pool = SessionPool(connect_timeout=1.0, read_timeout=0.2)
        error = await failure(pool, f"http://127.0.0.1:{silent.getsockname()[1]}/v1/chat")
    assert (error.retryable, error.timeout, error.unreachable) == (True, True, False)
    await pool.aclose()


async def test_a_rate_limited_upstream_keeps_its_status_and_says_when_to_come_back():
    pool = SessionPool(connect_timeout=1.0, read_timeout=1.0)
    async with answering(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n") as url:
        error = await failure(pool, url + "/v1/chat")
    assert (error.client_status, error.retryable, error.retry_after) == (429, True, 7.0)
    await pool.aclose()


async def test_a_client_error_carries_the_upstream_s_own_words_without_a_retry():
    body = b'{"error": {"message": "prompt   is\\nempty"}}'
    raw = b"HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    pool = SessionPool(connect_timeout=1.0, read_timeout=1.0)
    async with answering(raw) as url:
        error = await failure(pool, url + "/v1/chat")
    assert (error.client_status, error.retryable, str(error)) == (400, False, "prompt is empty")
    await pool.aclose()


async def test_an_answer_that_is_not_http_is_a_retryable_failure():
    pool = SessionPool(connect_timeout=1.0, read_timeout=1.0)
    async with answering(b"SSH-2.0-OpenSSH_9.2\r\n\r\n") as url:
        error = await failure(pool, url + "/v1/chat")
    assert (error.client_status, error.retryable) == (502, True)
    await pool.aclose()
