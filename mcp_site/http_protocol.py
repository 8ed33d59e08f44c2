"""The web role's HTTP/1.1 protocol: uvicorn's httptools protocol, with the bounds of a server facing clients.

uvicorn (``--http mcp_site.http_protocol:GatewayHttpProtocol``, docker/entrypoint.sh) bounds
neither the size of a request's head (request line and headers) nor the time it takes to arrive,
and answers a request it cannot parse in plain text. This protocol adds:

- a head larger than :data:`MAX_HEAD_BYTES` is refused with ``431`` and the connection closed,
  before more of it is buffered;
- a head that has not arrived :data:`HEAD_SECONDS` after its first byte (or after the connection
  opened) ends the connection, with a ``408`` if any of it came: a client trickling its headers
  (slowloris) holds a connection for that long at most;
- an HTTP/1.1 request without a ``Host`` header is refused with ``400`` (RFC 9112 3.2);
- those refusals and a malformed request's ``400`` come in the gateway's one error shape (JSON),
  with an ``X-Request-ID`` like every other answer.

A client that ends its side of the stream (``shutdown(SHUT_WR)``, ``nc -N``) is taken as gone, as
uvicorn takes it: the connection closes and the request in flight is cancelled with its upstream
call (recorded as 499). A half-close cannot be told from a client that left until a write fails,
and answering half-closed clients would leave every departed client's upstream call running.

A body that stalls is the application's to bound (``gateway.handler.BODY_IDLE_SECONDS``). Deadlines
are checked by one sweep a second per event loop, so a request pays for a clock read, not a timer.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from core import request_id
from core.errors import HttpError, error_body

#: The largest request head accepted: request line plus headers (nginx's default buffers hold 32 KB).
MAX_HEAD_BYTES = 64 * 1024
#: How long a request's head may take to arrive, from its first byte or from the connection's start.
HEAD_SECONDS = 30.0
#: How long a refused connection is kept open for the client to read the answer (see ``refuse``).
LINGER_SECONDS = 2.0

MALFORMED = HttpError(400, "The request is not valid HTTP/1.1 and could not be read.", code="invalid_request")
HEAD_TOO_LARGE = HttpError(
    431,
    f"The request line and headers are larger than {MAX_HEAD_BYTES // 1024} KB.",
    code="request_header_fields_too_large",
)
HEAD_TIMEOUT = HttpError(
    408,
    f"The request's headers did not arrive within {HEAD_SECONDS:g} s. Send the request again.",
    code="request_timeout",
)

MISSING_HOST = HttpError(400, "An HTTP/1.1 request must carry a Host header.", param="Host", code="invalid_host")


class _Refused(Exception):
    """Raised in a parser callback to stop parsing a request that is refused."""


class GatewayHttpProtocol(HttpToolsProtocol):
    """One client connection; see the module's docstring for what it adds to uvicorn's."""

    #: When the head now awaited started to arrive (loop time), or ``None`` while none is awaited.
    head_since: float | None = None
    #: Bytes of the awaited head received so far (a whole read once the head is past it: see data_received).
    head_bytes = 0
    #: Whether any byte of the awaited head has arrived.
    head_started = False
    #: Refused: what the client still sends is read and dropped until the connection closes.
    lingering = False
    #: The refusal a parser callback decided on (the parser reports it as a parse error).
    refusal: HttpError | None = None
    #: A refusal that waits for the answers to the requests before it (see ``refuse``).
    deferred: HttpError | None = None
    #: Of the current read, at least this many bytes belong to messages before the awaited head.
    read_parsed = 0
    #: Where in the current read the awaited head began (at most), or ``None`` if it began before it.
    head_offset: int | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head(started=False)
        _HeadSweep.of(self.loop).connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        _HeadSweep.of(self.loop).connections.discard(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.lingering:
            return
        self.read_parsed, self.head_offset = 0, None
        super().data_received(data)
        if self.head_since is not None and not self.transport.is_closing() and not self.lingering:
            # Still inside a head after this read: its part of the read counts against the bound (a
            # read that also completed the head did not get here, so a body never counts). A head that
            # began in this read began after what the parser reported of the messages before it (the
            # rest of a body, pipelined requests): counted from there, never less than it holds.
            if self.head_offset is None:
                self.head_bytes += len(data)
            else:
                self.head_bytes = len(data) - self.head_offset
            if self.head_bytes > MAX_HEAD_BYTES:
                self.refuse(HEAD_TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._await_head(started=True)
        self.head_offset = self.read_parsed

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self.read_parsed += len(body)

    def on_headers_complete(self) -> None:
        # Between requests of a kept-alive connection no head is awaited: uvicorn closes it when idle,
        # and the next head's clock starts at its first byte.
        self.head_since = None
        # A head that came in one read was parsed whole before data_received could count it: its size
        # on the wire is at least the request line ("GET / HTTP/1.1\r\n") and every header with its
        # separators (thousands of empty headers are small to a sum of names and values).
        # Summed here once rather than counted in a callback per header: every request pays for this.
        headers = sum(len(name) + len(value) for name, value in self.headers) + 3 * len(self.headers)
        size = len(self.url) + headers + len(self.parser.get_method()) + 14
        if size > MAX_HEAD_BYTES:
            self.refusal = HEAD_TOO_LARGE
            raise _Refused  # stops the parser; uvicorn answers through send_400_response
        # RFC 9112 3.2: an HTTP/1.1 request without Host is a 400 (Django would read the server's own
        # address instead, and answer it). Host comes first in almost every request: a short scan.
        if not any(name == b"host" for name, _ in self.headers) and self.parser.get_http_version() == "1.1":
            self.refusal = MISSING_HOST
            raise _Refused
        # What of this read the head took, at least (of a head begun in an earlier read: what is
        # left after the bytes counted then, which were at least as many as the head had there).
        if self.head_offset is not None:
            self.read_parsed = self.head_offset + size
        else:
            self.read_parsed = max(0, size - self.head_bytes)
        super().on_headers_complete()

    def handle_websocket_upgrade(self) -> None:
        # The WebSocket protocol takes the connection over: this one never hears of it again.
        _HeadSweep.of(self.loop).connections.discard(self)
        super().handle_websocket_upgrade()

    def send_400_response(self, msg: str) -> None:
        # uvicorn's answer to a request httptools cannot parse (its message names the parser).
        self.refuse(self.refusal or MALFORMED)

    def refuse(self, error: HttpError) -> None:
        """Answer ``error`` in the gateway's error shape and close the connection.

        Requests read before the refused one are answered first: the refusal waits for their
        responses (``on_response_complete``); what the client sends meanwhile is dropped. A request
        whose own body cannot be read is not answered by the application: the refusal is its answer
        (or, if its response has begun, the connection is closed).
        """
        if self.lingering:
            return
        self.head_since = None
        self.lingering = True
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            if cycle.more_body:
                # Its body broke off: the application hears of a disconnect, and sends nothing more.
                cycle.disconnected = True
                cycle.message_event.set()
                if cycle.response_started:
                    self.transport.close()
                    return
            else:
                self.deferred = error
                return
        self._answer(error)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.deferred is not None and self.cycle.response_complete and not self.transport.is_closing():
            self._unset_keepalive_if_required()
            error, self.deferred = self.deferred, None
            self._answer(error)

    def _answer(self, error: HttpError) -> None:
        body = error_body(error)
        head = [f"HTTP/1.1 {error.status} {HTTPStatus(error.status).phrase}".encode()]
        head += [name + b": " + value for name, value in self.server_state.default_headers]
        # Every answer carries a request id (docs/errors.md): the client's, when its head gave a sane one.
        sent_id = next((value for name, value in self.headers if name == b"x-request-id"), b"")
        head += [
            b"content-type: application/json",
            b"content-length: " + str(len(body)).encode(),
            b"x-request-id: " + request_id.from_headers(sent_id.decode("latin-1")).encode(),
            b"x-content-type-options: nosniff",
            b"connection: close",
        ]
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        # Close lingering, as nginx does: closing a socket with unread data sends a reset, which can
        # destroy the answer before the client reads it. Send the answer and our end of the stream,
        # read and drop what the client still sends, and close when it does or after LINGER_SECONDS.
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _await_head(self, *, started: bool) -> None:
        self.head_since = self.loop.time()
        self.head_bytes = 0
        self.head_started = started

    def head_overdue(self, now: float) -> bool:
        return self.head_since is not None and now - self.head_since > HEAD_SECONDS


class _HeadSweep:
    """Once a second, on each event loop: end the connections whose head is overdue."""

    _sweeps: dict[asyncio.AbstractEventLoop, _HeadSweep] = {}

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.connections: set[GatewayHttpProtocol] = set()
        self.handle = loop.call_later(1.0, self.sweep)

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> _HeadSweep:
        sweep = cls._sweeps.get(loop)
        if sweep is None:
            sweep = cls._sweeps[loop] = cls(loop)
        return sweep

    def sweep(self) -> None:
        now = self.loop.time()
        for connection in [c for c in self.connections if c.head_overdue(now)]:
            if connection.head_started:
                connection.refuse(HEAD_TIMEOUT)
            else:
                connection.head_since = None
                connection.transport.close()
        self.handle = self.loop.call_later(1.0, self.sweep)
