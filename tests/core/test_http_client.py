"""The upstream HTTP client: answers read as they arrive, connections kept only when it is safe,
every way a server can misbehave turned into one of the client's errors.

Each test talks to a real server on loopback that plays a script of raw bytes, so the answers can
be exactly as wrong as the test needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from core import http_client
from core.http_client import ConnectError, Disconnected, Pool, ProtocolError, ReadTimeout

#: Answers the script server's handler writes: given the request's head and body, and the stream.
Script = Callable[[bytes, bytes, asyncio.StreamWriter], Awaitable[None]]


class ScriptServer:
    """A loopback server answering each request with ``script``; counts connections and requests."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[tuple[bytes, bytes]] = []
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                self.requests.append((head, body))
                await self.script(head, body, writer)
                if writer.is_closing():
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def serving(script: Script) -> AsyncIterator[ScriptServer]:
    server = ScriptServer(script)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()


def answer(body: bytes = b"hello", *, status: str = "200 OK", headers: str = "") -> Script:
    async def script(head: bytes, _body: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{headers}\r\n".encode() + body)
        await writer.drain()

    return script


def pool(*, read_timeout: float = 2.0, size: int = 256, keepalive: float = 30.0, read_buffer: int = 16 * 1024) -> Pool:
    return Pool(connect_timeout=2.0, read_timeout=read_timeout, size=size, keepalive=keepalive, read_buffer=read_buffer)


async def test_an_answer_read_to_its_end_gives_its_connection_back_for_the_next_call():
    async with serving(answer(b'{"ok": true}', headers="Content-Type: application/json\r\n")) as server:
        client = pool()
        for _ in range(3):
            response = await client.request("POST", server.url + "/v1/chat?x=1", headers={"A": "b"}, body=b"{}")
            assert (response.status, await response.read()) == (200, b'{"ok": true}')
            assert response.header("content-type") == "application/json" and response.content_length == 12
            response.release()
        assert server.connections == 1
        head, body = server.requests[0]
        assert head.startswith(b"POST /v1/chat?x=1 HTTP/1.1\r\nHost: 127.0.0.1:")
        assert b"\r\nA: b\r\n" in head and b"\r\nContent-Length: 2\r\n" in head and body == b"{}"
        await client.aclose()


async def test_an_answer_left_unread_closes_its_connection():
    async with serving(answer(b"x" * 1000)) as server:
        client = pool()
        (await client.request("GET", server.url + "/", headers={})).close()
        response = await client.request("GET", server.url + "/", headers={})
        assert await response.read() == b"x" * 1000
        response.release()
        assert server.connections == 2
        await client.aclose()


async def test_a_chunked_body_arrives_piece_by_piece_as_the_server_sends_it():
    release = asyncio.Event()

    async def script(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        await release.wait()
        writer.write(b"6\r\nsecond\r\n0\r\n\r\n")
        await writer.drain()

    async with serving(script) as server:
        client = pool()
        response = await client.request("GET", server.url + "/", headers={})
        assert response.content_length is None
        pieces = response.chunks()
        assert await anext(pieces) == b"first"  # before the server has sent the rest
        release.set()
        assert [piece async for piece in pieces] == [b"second"]
        response.release()
        assert client.idle_count() == 1
        await client.aclose()


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\n\r\n",  # no length, not chunked
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, identity\r\n\r\n",  # chunked, but not last (RFC 9112 6.3)
    ],
)
async def test_a_body_that_ends_with_the_connection_is_read_whole_and_the_connection_not_kept(head):
    async def script(_head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(head + b"until the end")
        await writer.drain()
        writer.close()

    async with serving(script) as server:
        client = pool()
        response = await client.request("GET", server.url + "/", headers={})
        assert await response.read() == b"until the end"
        response.release()
        assert client.idle_count() == 0
        await client.aclose()


async def test_trailer_fields_after_a_chunked_body_are_not_taken_for_headers():
    async def script(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
            b"4\r\nbody\r\n0\r\nContent-Type: image/png\r\nX-Checksum: abc\r\n\r\n"
        )
        await writer.drain()

    async with serving(script) as server:
        client = pool()
        response = await client.request("GET", server.url + "/", headers={})
        assert await response.read() == b"body"
        assert response.header("content-type") == "text/plain" and response.header("x-checksum") is None
        response.release()
        assert client.idle_count() == 1  # the trailers ended the answer; the connection is kept
        await client.aclose()


async def test_a_head_answer_has_no_body_whatever_its_length_says():
    async def script(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nContent-Type: image/jpeg\r\n\r\n")
        await writer.drain()

    async with serving(script) as server:
        client = pool(read_timeout=1.0)
        response = await client.request("HEAD", server.url + "/image.jpg", headers={})
        assert (response.content_length, await asyncio.wait_for(response.read(), 0.5)) == (5000, b"")
        response.release()
        assert b"Content-Length" not in server.requests[0][0]
        await client.aclose()


async def test_a_no_content_answer_ends_at_its_head_and_keeps_the_connection():
    async with serving(answer(b"", status="204 No Content")) as server:
        client = pool()
        for _ in range(2):
            response = await client.request("DELETE", server.url + "/", headers={})
            assert (response.status, await response.read()) == (204, b"")
            response.release()
        assert server.connections == 1
        await client.aclose()


async def test_an_interim_continue_is_skipped_for_the_real_answer():
    async def script(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    async with serving(script) as server:
        client = pool()
        response = await client.request("POST", server.url + "/", headers={}, body=b"x")
        assert (response.status, await response.read()) == (201, b"ok")
        response.release()
        await client.aclose()


async def test_a_kept_connection_the_server_dropped_is_replaced_without_the_caller_noticing():
    async def script(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()  # without saying so: the client finds out when it uses the connection again

    async with serving(script) as server:
        client = pool()
        for _ in range(3):
            response = await client.request("POST", server.url + "/", headers={}, body=b"{}")
            assert await response.read() == b"ok"
            response.release()
            await asyncio.sleep(0.05)
        assert server.connections == 3 and len(server.requests) == 3
        await client.aclose()


async def test_a_connection_dropped_just_as_it_is_reused_is_tried_once_more_on_a_new_one():
    client = pool()
    async with serving(answer(b"ok")) as server:
        response = await client.request("GET", server.url + "/", headers={})
        await response.read()
        response.release()
        [kept] = client._idle[("http", "127.0.0.1", server.port)]
        # Broken, and the loop has not told the connection yet (connection_lost runs on its next turn).
        kept.transport.abort()  # type: ignore[union-attr]
        assert not kept.closed
        response = await client.request("GET", server.url + "/", headers={})
        assert await response.read() == b"ok"
        response.release()
    await client.aclose()


async def test_an_answer_cut_short_is_a_disconnection_when_read():
    async def script(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
        await writer.drain()
        writer.close()

    async with serving(script) as server:
        client = pool()
        response = await client.request("GET", server.url + "/", headers={})
        with pytest.raises(Disconnected):
            await response.read()
        response.release()
        assert client.idle_count() == 0
        await client.aclose()


async def test_a_server_that_closes_without_answering_a_fresh_connection_is_a_disconnection():
    async def script(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async with serving(script) as server:
        with pytest.raises(Disconnected):
            await pool().request("GET", server.url + "/", headers={})
        assert server.connections == 1, "a fresh connection is not retried"


async def test_a_silent_server_is_a_read_timeout_and_a_slow_one_is_not():
    async def silent(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    async def trickle(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
        for byte in b"abcde":
            await asyncio.sleep(0.1)
            writer.write(bytes([byte]))
            await writer.drain()

    client = pool(read_timeout=0.3)
    async with serving(silent) as server:
        with pytest.raises(ReadTimeout):
            await client.request("GET", server.url + "/", headers={})
    async with serving(trickle) as server:
        response = await client.request("GET", server.url + "/", headers={})
        assert await response.read() == b"abcde"  # 0.5 s in all, never 0.3 s without a byte
        response.release()
    await client.aclose()


async def test_a_body_that_stops_arriving_is_a_read_timeout():
    async def script(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await writer.drain()
        await asyncio.sleep(5)

    async with serving(script) as server:
        response = await pool(read_timeout=0.3).request("GET", server.url + "/", headers={})
        with pytest.raises(ReadTimeout):
            await response.read()
        response.release()


async def test_no_server_is_a_connect_error():
    async with serving(answer()) as server:
        url = server.url
    with pytest.raises(ConnectError):
        await pool().request("GET", url + "/", headers={})


async def test_bytes_that_are_not_http_are_a_protocol_error():
    async def script(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await writer.drain()

    async with serving(script) as server:
        with pytest.raises(ProtocolError):
            await pool().request("GET", server.url + "/", headers={})


async def test_bytes_after_the_answer_end_the_connection():
    async def script(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil")
        await writer.drain()

    async with serving(script) as server:
        client = pool()
        response = await client.request("GET", server.url + "/", headers={})
        assert await response.read() == b"ok"
        response.release()
        response = await client.request("GET", server.url + "/", headers={})
        assert await response.read() == b"ok", "never the answer nobody asked for"
        response.release()
        assert server.connections == 2
        await client.aclose()


@pytest.mark.parametrize(
    ("path", "headers"),
    [("/a\r\nX-Injected: 1", {}), ("/", {"X-Ok": "a\r\nX-Injected: 1"}), ("/", {"X-Bad\nName": "v"})],
)
async def test_cr_or_lf_in_the_target_or_a_header_is_refused_before_anything_is_sent(path, headers):
    async with serving(answer()) as server:
        with pytest.raises(ValueError, match="CR or LF"):
            await pool().request("GET", server.url + path, headers=headers)
        await asyncio.sleep(0.05)
        assert server.requests == []


async def test_a_url_that_is_not_http_is_refused():
    with pytest.raises(ValueError, match="http"):
        await pool().request("GET", "ftp://example.com/file", headers={})


async def test_a_reader_that_falls_behind_pauses_the_server_instead_of_buffering_everything():
    size = 4 * 1024 * 1024

    async def script(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
        for _ in range(size // 65536):
            writer.write(b"z" * 65536)
            await writer.drain()

    async with serving(script) as server:
        client = pool(read_buffer=16 * 1024)
        response = await client.request("GET", server.url + "/big", headers={})
        await asyncio.sleep(0.3)  # the server writes as fast as it may; nobody reads
        held = response._conn.buffered
        assert held <= client.high_water + 256 * 1024, held  # one socket read past the mark at most
        total = 0
        async for chunk in response.chunks():
            total += len(chunk)
        assert total == size
        response.release()
        await client.aclose()


async def test_calls_beyond_the_pool_size_wait_for_a_connection():
    async with serving(answer(b"ok")) as server:
        client = pool(size=1)
        first = await client.request("GET", server.url + "/", headers={})
        second = asyncio.ensure_future(client.request("GET", server.url + "/", headers={}))
        await asyncio.sleep(0.1)
        assert not second.done()
        await first.read()
        first.release()
        response = await asyncio.wait_for(second, 1)
        assert await response.read() == b"ok"
        response.release()
        assert server.connections == 1
        await client.aclose()


async def test_a_connection_idle_past_keep_alive_is_not_used_again():
    async with serving(answer(b"ok")) as server:
        client = pool(keepalive=0.1)
        for _ in range(2):
            response = await client.request("GET", server.url + "/", headers={})
            await response.read()
            response.release()
            await asyncio.sleep(0.2)
        assert server.connections == 2
        await client.aclose()


async def test_a_cancelled_call_frees_its_place_in_the_pool():
    async def slow(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.5)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    async with serving(slow) as server:
        client = pool(size=1)
        call = asyncio.ensure_future(client.request("GET", server.url + "/", headers={}))
        await asyncio.sleep(0.1)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        response = await asyncio.wait_for(client.request("GET", server.url + "/", headers={}), 2)
        assert await response.read() == b"ok"
        response.release()
        assert server.connections == 2, "the cancelled call's connection, mid-answer, is not reused"
        await client.aclose()


def test_the_client_names_its_errors_by_what_a_caller_does_about_them():
    assert issubclass(http_client.ConnectTimeout, ConnectError) and issubclass(http_client.ConnectTimeout, TimeoutError)
    assert issubclass(ReadTimeout, TimeoutError) and not issubclass(ReadTimeout, ConnectError)
    assert all(
        issubclass(e, http_client.HttpClientError) for e in (ConnectError, ReadTimeout, Disconnected, ProtocolError)
    )


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, and its key."""
    cert, key = directory / "server.pem", directory / "server.key"
    subject = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            *subject,
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_https_servers_are_verified_and_then_spoken_to_like_any_other(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    cert, key = _certificate(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    server = ScriptServer(answer(b"secret"))
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=server_tls)
    url = f"https://127.0.0.1:{listener.sockets[0].getsockname()[1]}/v1/models"
    try:
        with pytest.raises(ConnectError):  # the system's trust store does not know this certificate
            await pool().request("GET", url, headers={})
        trusting = ssl.create_default_context(cafile=str(cert))
        client = Pool(connect_timeout=2.0, read_timeout=2.0, tls=trusting)
        for _ in range(2):
            response = await client.request("GET", url, headers={})
            assert (response.status, await response.read()) == (200, b"secret")
            response.release()
        assert server.connections == 1, "the refused handshake never got that far; then one kept connection"
        assert server.requests[0][0].startswith(b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:")
        await client.aclose()
    finally:
        listener.close()


async def test_a_large_request_body_is_sent_whole_and_a_server_that_stops_reading_it_times_out():
    body = b"a" * (8 * 1024 * 1024)
    async with serving(answer(b"got it")) as server:
        response = await pool(read_timeout=1.0).request("POST", server.url + "/upload", headers={}, body=body)
        assert await response.read() == b"got it"
        assert server.requests[0][1] == body
        response.release()

    async def never_reads(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    listener = await asyncio.start_server(never_reads, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        with pytest.raises(ReadTimeout):
            await asyncio.wait_for(
                pool(read_timeout=0.5).request("POST", f"http://127.0.0.1:{port}/", headers={}, body=body), 3
            )
    finally:
        listener.close()


@pytest.mark.parametrize("shape", ["many headers", "one endless value"])
async def test_a_head_larger_than_the_bound_is_a_protocol_error_without_holding_it_all(shape):
    async def script(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\n" if shape == "many headers" else b"HTTP/1.1 200 OK\r\nX-Big: ")
        piece = b"X-A: " + b"a" * 1000 + b"\r\n" if shape == "many headers" else b"a" * 1024
        with contextlib.suppress(ConnectionError):
            for _ in range(4 * http_client.MAX_HEAD_BYTES // len(piece)):
                writer.write(piece)
                await writer.drain()
            writer.write(b"\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()

    async with serving(script) as server:
        with pytest.raises(ProtocolError, match="head"):
            await pool().request("GET", server.url + "/", headers={})


async def test_a_head_within_the_bound_is_read_whatever_reads_it_arrives_in():
    fits = b"X-Fits: " + b"a" * (http_client.MAX_HEAD_BYTES - 1024) + b"\r\n"

    async def script(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        for piece in (b"HTTP/1.1 200 OK\r\n", fits[:1000], fits[1000:], b"Content-Length: 2\r\n\r\nok"):
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.01)

    async with serving(script) as server:
        response = await pool().request("GET", server.url + "/", headers={})
        assert (len(response.header("X-Fits") or ""), await response.read()) == (len(fits) - 10, b"ok")
        response.release()


async def test_a_switch_of_protocols_nobody_asked_for_is_a_protocol_error():
    async def script(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x02hi")
        await writer.drain()

    async with serving(script) as server:
        client = pool()
        with pytest.raises(ProtocolError):
            await client.request("GET", server.url + "/", headers={})
        assert client._slots._value == 256


async def test_an_answer_that_comes_before_a_large_request_body_is_sent_is_handed_over_at_once():
    connections = 0

    async def answers_early(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\n\r\ntoo big!")
        await writer.drain()
        await asyncio.sleep(5)  # neither reads the rest of the body nor closes

    listener = await asyncio.start_server(answers_early, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    client = pool(read_timeout=3.0)
    try:
        url = f"http://127.0.0.1:{port}/upload"
        response = await asyncio.wait_for(client.request("POST", url, headers={}, body=b"a" * (32 * 1024 * 1024)), 1.5)
        assert (response.status, await asyncio.wait_for(response.read(), 1.0)) == (413, b"too big!")
        response.release()
        assert client.idle_count() == 0, "the rest of its request was never sent: the connection is out of step"
        assert connections == 1
    finally:
        await client.aclose()
        listener.close()


async def test_a_server_reading_a_large_request_body_slowly_but_steadily_is_not_silent():
    body = b"a" * (24 * 1024 * 1024)

    async def reads_slowly(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        received = 0
        while received < len(body):
            received += len(await reader.read(64 * 1024))
            await asyncio.sleep(0.01)  # ~6 MB/s: the whole body takes several read timeouts
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        assert b"Content-Length: %d" % len(body) in head

    # A small receive buffer keeps the body in the client's send backlog, where its progress shows.
    listening = socket.create_server(("127.0.0.1", 0))
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    listener = await asyncio.start_server(reads_slowly, sock=listening)
    port = listener.sockets[0].getsockname()[1]
    client = pool(read_timeout=1.0)
    try:
        response = await client.request("POST", f"http://127.0.0.1:{port}/upload", headers={}, body=body)
        assert await response.read() == b"ok"
        response.release()
    finally:
        await client.aclose()
        listener.close()


async def test_a_released_answer_read_again_never_yields_the_next_calls_body():
    calls = 0

    async def script(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        calls += 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\ncall %03d" % calls)
        await writer.drain()

    async with serving(script) as server:
        client = pool()
        first = await client.request("GET", server.url + "/", headers={})
        assert await first.read() == b"call 001"
        first.release()
        second = await client.request("GET", server.url + "/", headers={})  # on the same connection
        await asyncio.sleep(0.05)
        with pytest.raises(http_client.HttpClientError, match="released"):
            await first.read()
        assert await second.read() == b"call 002"
        second.release()
        first.close()
        assert (server.connections, client._slots._value, client.idle_count()) == (1, 256, 1)
        await client.aclose()
