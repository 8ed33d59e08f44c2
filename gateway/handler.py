"""The ASGI handler for the hot path.

Django's stock ``ASGIHandler`` wraps every request in asgiref's ``ThreadSensitiveContext`` and
runs sync middleware and the request signals through thread hops; that is about half of Django's
own per-request cost (DESIGN.md). The gateway's views are async end to end and touch no ORM, so
this handler calls them directly: it keeps Django's request and response objects and its URL
resolver, and adds what the middleware would have added (request id, access log, metrics).
No sync code may run under it.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any, cast

import structlog
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestDataTooBig, SuspiciousOperation
from django.core.handlers.asgi import ASGIRequest
from django.db import DatabaseError, close_old_connections
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.urls import ResolverMatch, URLResolver, get_resolver
from django.urls.exceptions import Resolver404

from core import request_id, tracing
from core.asgi_types import Receive, Scope, Send
from core.diagnostics import observe_phase
from core.errors import (
    DATABASE_UNAVAILABLE,
    INTERNAL_ERROR,
    STATUS_CLIENT_CLOSED,
    ApplicationError,
    HttpError,
    body_too_large,
    error_response,
    invalid,
    not_found,
)
from core.metrics import UNMATCHED_ROUTE, observe_request
from gateway.auth import authenticate
from gateway.cors import add_cors_headers, allowed_origin, is_preflight, preflight_response
from gateway.streamed import StreamedAnswer

log = structlog.get_logger("mcp.access")
errors_log = structlog.get_logger("mcp.gateway")

#: Largest request body accepted (audio uploads are the biggest: 25 MB plus multipart overhead).
MAX_BODY_BYTES = 26 * 1024 * 1024
#: Longest wait for the next part of a request body: a client that sends its headers and then falls
#: silent would otherwise hold its connection (and a task) for ever; the server bounds only the headers.
BODY_IDLE_SECONDS = 30.0
#: Longest a whole request body may take: a client sending a byte just within every idle bound
#: would otherwise hold its connection for ever. 25 MB in this time is about 85 KB/s.
BODY_DEADLINE_SECONDS = 300.0


#: The server ended the request body with a disconnect: the client left mid-upload, or the server
#: found the chunked encoding malformed or cut short (some servers report it so). Answered either
#: way: an application that answers nothing leaves the server to send its own plain-text 500, and a
#: client that has gone reads nothing.
BODY_UNREADABLE = HttpError(
    400,
    "The request body could not be read: it was cut short or its chunked encoding is malformed.",
    code="invalid_request",
)
BODY_STALLED = HttpError(
    408,
    f"The request body stopped arriving: nothing came for {BODY_IDLE_SECONDS:g} s. Send it again.",
    code="request_timeout",
)
BODY_TOO_SLOW = HttpError(
    408,
    f"The request body took longer than {BODY_DEADLINE_SECONDS:g} s to arrive. Send it again.",
    code="request_timeout",
)


class GatewayRequest(ASGIRequest):
    """Django's ASGI request, with the id this handler gave it (the client's ``X-Request-ID`` or a fresh one)."""

    request_id: str


class HotPathHandler:
    """Serve the URL patterns of ``urlconf`` with async views and no per-request thread hop.

    :param urlconf: the module whose ``urlpatterns`` this handler serves.
    :param ops_routes: URL names of the operations endpoints: answered whatever the ``Host`` (probes
        use the pod's IP) and never traced (probes and scrapes would drown the traces).
    """

    def __init__(self, urlconf: str = "gateway.urls", *, ops_routes: frozenset[str] = frozenset()) -> None:
        self.resolver: URLResolver = get_resolver(urlconf)
        self.ops_routes = ops_routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send, match: ResolverMatch | None = None) -> None:
        started = time.perf_counter()
        headers = dict(scope["headers"])
        rid = request_id.from_headers(headers.get(b"x-request-id", b"").decode("latin-1"))
        structlog.contextvars.bind_contextvars(request_id=rid)
        route, status, path, request, server_span = UNMATCHED_ROUTE, 500, scope["path"], None, None
        response: HttpResponseBase | None = None
        watcher: asyncio.Future[None] | None = None
        cors: str | None = None
        try:
            try:
                match = match or self.resolver.resolve(path_info(scope))
                route = match.route
                ops = match.url_name in self.ops_routes
                if not ops:
                    server_span = tracing.start_server_span(scope["method"], headers)
                    cors = allowed_origin(headers)
                if match.kwargs and not settings.LOG_PROMPTS:
                    path = None  # a URL parameter may be a prompt (Pollinations paths): the route says enough
                if not ops and scope["method"] == "POST" and headers.get(b"expect", b"").lower() == b"100-continue":
                    await _authenticate_before_upload(scope)
                body = await read_body(receive, headers, MAX_BODY_BYTES)
                request = GatewayRequest(scope, io.BytesIO(body))
                request._body = body  # read and bounded above: Django's smaller form-data limit does not apply
                request.request_id = rid
                if not ops:
                    request.get_host()  # DisallowedHost unless ALLOWED_HOSTS lists it
                request.resolver_match = match
                # A client that leaves while the upstream is still thinking cancels the view at once
                # (the upstream call with it, no retry for nobody); the pipeline reports 499.
                watcher = asyncio.ensure_future(_wait_for_disconnect(receive))
                view = _View(cast(asyncio.Task[Any], asyncio.current_task()))  # this coroutine runs in a task
                watcher.add_done_callback(view.client_left)
                try:
                    if cors is not None and is_preflight(scope["method"], headers):
                        response = preflight_response(cors, headers)
                    else:
                        response = await match.func(request, *match.args, **match.kwargs)
                except asyncio.CancelledError:
                    if not view.departed:
                        raise
                    view.task.uncancel()
                    status = STATUS_CLIENT_CLOSED
                    return
                finally:
                    view.waiting = False
            except Resolver404:
                response = error_response(not_found())
            except ApplicationError as exc:
                response = error_response(exc)
            except DatabaseError as exc:
                errors_log.warning("database_unavailable", error_type=type(exc).__name__, where=where(exc))
                # This handler sends no request signals, so nothing else would drop the broken
                # connection the ORM's thread holds (after a PostgreSQL restart, every later query
                # would fail on it): close it, and the pool hands out a checked one next time.
                await sync_to_async(close_old_connections)()
                response = error_response(DATABASE_UNAVAILABLE)
            except DisallowedHost:
                response = error_response(
                    invalid("The Host header names no host this gateway serves.", param="Host", code="invalid_host")
                )
            except RequestDataTooBig:
                response = error_response(body_too_large(MAX_BODY_BYTES))
            except SuspiciousOperation:
                response = error_response(invalid("The request is malformed.", code="invalid_request"))
            except Exception as exc:  # noqa: BLE001 - last resort: the caller gets a clean 500, the log the type.
                errors_log.error("unhandled_error", error_type=type(exc).__name__, where=where(exc))
                response = error_response(INTERNAL_ERROR)
            status = response.status_code
            response["X-Request-ID"] = rid
            add_security_headers(response, request)
            add_cors_headers(response, cors)
            await self._send(response, send, receive, watcher)
        finally:
            if watcher is not None and not watcher.done():
                watcher.cancel()
            if isinstance(response, StreamedAnswer):
                # Read to its end or not, or never started (the client gone before it): closed now,
                # so the upstream answer is closed and the call settled before the request is logged.
                await _close_body(response)
            ended = time.perf_counter()
            elapsed = ended - started
            observe_request(route=route, method=scope["method"], status=status, seconds=elapsed)
            log.info(
                "request",
                method=scope["method"],
                path=path,
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            tracing.end_server_span(server_span, method=scope["method"], route=route, status=status, request_id=rid)
            structlog.contextvars.clear_contextvars()
            observe_phase("log", time.perf_counter() - ended)

    async def _send(
        self, response: HttpResponseBase, send: Send, receive: Receive, watcher: asyncio.Future[None] | None
    ) -> None:
        if not response.streaming:
            await send_whole(response, send)
            return
        await send({"type": "http.response.start", "status": response.status_code, "headers": _headers(response)})
        relay = asyncio.ensure_future(self._relay(cast(StreamingHttpResponse, response), send))
        disconnect = watcher if watcher is not None else asyncio.ensure_future(_wait_for_disconnect(receive))
        try:
            await asyncio.wait({relay, disconnect}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # A client that left cancels the relay, which closes the upstream request with it.
            for task in (relay, disconnect):
                if not task.done():
                    task.cancel()
            await asyncio.gather(relay, disconnect, return_exceptions=True)

    async def _relay(self, response: StreamingHttpResponse, send: Send) -> None:
        body = response.body if isinstance(response, StreamedAnswer) else aiter(response)
        async with aclosing(cast(AsyncGenerator[bytes, None], body)) as content:
            async for chunk in content:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _close_body(response: StreamedAnswer) -> None:
    try:
        await response.body.aclose()
    except Exception as exc:  # noqa: BLE001 - the answer has gone; the log says what failed, the request is still logged.
        errors_log.error("stream_close_failed", error_type=type(exc).__name__, where=where(exc))


class Routes:
    """``resolver``'s matches, those of fixed paths (``/v1/chat/completions``…) remembered.

    Django's resolver tries the URL patterns' regular expressions one by one on every call; a match
    that captures nothing from the path depends on the path alone, so it is resolved once. One that
    captures (a prompt in a Pollinations path) is resolved every time, and at most
    :attr:`MAX_REMEMBERED` paths are kept, so a pattern matching many paths without capturing any
    cannot grow the table.
    """

    MAX_REMEMBERED = 256

    def __init__(self, resolver: URLResolver) -> None:
        self.resolver = resolver
        self._fixed: dict[str, ResolverMatch] = {}

    def resolve(self, path: str) -> ResolverMatch | None:
        """The route ``path`` matches, or ``None``."""
        match = self._fixed.get(path)
        if match is not None:
            return match
        try:
            match = self.resolver.resolve(path)
        except Resolver404:
            return None
        # captured_kwargs (Django 4.1+): the ones taken from the path, not a route's extra kwargs; not in the stubs.
        captured = match.captured_kwargs  # type: ignore[attr-defined]
        if not match.args and not captured and len(self._fixed) < self.MAX_REMEMBERED:
            self._fixed[path] = match
        return match


async def _authenticate_before_upload(scope: Scope) -> None:
    """401 now for a client waiting for ``100 Continue`` with a key that will be refused.

    The server invites the body (``100 Continue``) when the application first asks for it, so a
    caller without a valid key would otherwise upload the whole body (up to 26 MB) to hear 401.
    Every route of this handler that takes a POST needs a key. The refusal closes the connection:
    the body the client did not send could not be told from its next request.
    """
    try:
        await authenticate(GatewayRequest(scope, io.BytesIO(b"")))
    except HttpError as exc:
        raise HttpError(
            exc.status, exc.message, type=exc.type, code=exc.code, param=exc.param, headers={"Connection": "close"}
        ) from None


def path_info(scope: Scope) -> str:
    """The path Django resolves: the ASGI path minus the application's mount point."""
    root = scope.get("root_path") or ""
    return scope["path"].removeprefix(root) if root else scope["path"]


def nul_refusal(scope: Scope) -> HttpError | None:
    """400 for a NUL character in the path or the query string, refused at the edge for every route.

    No name, value or prompt needs one, and PostgreSQL refuses it in any text it is given, so
    letting one through only moves the failure deeper (a 500 from the database, a prompt the
    upstream chokes on).
    """
    if "\x00" in scope["path"] or b"%00" in scope["query_string"]:
        return invalid("The request holds a NUL character (%00), which no path or query value may contain.")
    return None


async def read_body(receive: Receive, headers: dict[bytes, bytes], limit: int) -> bytes:
    """The whole request body; 413 as soon as it is known to exceed ``limit`` bytes, 400 if it breaks
    off, 408 if no part of it arrives for :data:`BODY_IDLE_SECONDS` or the whole of it has not within
    :data:`BODY_DEADLINE_SECONDS` (:class:`_BodyWatch`)."""
    declared = headers.get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise body_too_large(limit)
    parts, size = [], 0
    task = cast(asyncio.Task[Any], asyncio.current_task())
    _body_watch.start(task)
    try:
        while True:
            try:
                message = await receive()
            except asyncio.CancelledError:
                refusal = _body_watch.stalled(task)
                if refusal is not None:
                    task.uncancel()
                    raise refusal from None
                raise
            _body_watch.progressed(task)
            if message["type"] == "http.disconnect":
                raise BODY_UNREADABLE
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise body_too_large(limit)
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts)
    finally:
        _body_watch.stop(task)


class _BodyWatch:
    """The request bodies being read, each cancelled by one sweep when no part of it came for
    :data:`BODY_IDLE_SECONDS`, or it began more than :data:`BODY_DEADLINE_SECONDS` ago.

    One sweeping task per event loop, not a timer per read: arming and cancelling a timeout around
    every ``receive()`` cost 5–20 µs a request, for the rare client that stalls.
    """

    def __init__(self) -> None:
        self._last_part: dict[asyncio.Task[Any], float] = {}
        self._started: dict[asyncio.Task[Any], float] = {}
        self._stalled: dict[asyncio.Task[Any], HttpError] = {}
        self._sweepers: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}

    def start(self, task: asyncio.Task[Any]) -> None:
        self._last_part[task] = self._started[task] = time.monotonic()
        loop = task.get_loop()
        if loop not in self._sweepers:
            self._sweepers[loop] = loop.create_task(self._sweep(loop))

    def progressed(self, task: asyncio.Task[Any]) -> None:
        self._last_part[task] = time.monotonic()

    def stalled(self, task: asyncio.Task[Any]) -> HttpError | None:
        """The refusal, if the sweep cancelled ``task`` (``None``: its client left, or the server is stopping)."""
        return self._stalled.pop(task, None)

    def stop(self, task: asyncio.Task[Any]) -> None:
        self._last_part.pop(task, None)
        self._started.pop(task, None)
        self._stalled.pop(task, None)

    async def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            while any(task.get_loop() is loop for task in self._last_part):
                await asyncio.sleep(min(1.0, BODY_IDLE_SECONDS / 2))
                now = time.monotonic()
                for task, last in list(self._last_part.items()):
                    if task.get_loop() is not loop or task in self._stalled:
                        continue
                    if last < now - BODY_IDLE_SECONDS:
                        self._stalled[task] = BODY_STALLED
                    elif self._started[task] < now - BODY_DEADLINE_SECONDS:
                        self._stalled[task] = BODY_TOO_SLOW
                    else:
                        continue
                    task.cancel()
        finally:
            del self._sweepers[loop]  # the next read on this loop starts a new sweep


_body_watch = _BodyWatch()


def add_security_headers(response: HttpResponseBase, request: HttpRequest | None) -> None:
    """What Django's SecurityMiddleware adds, for the URLs served without it: nosniff, and HSTS over TLS."""
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if settings.SECURE_HSTS_SECONDS and request is not None and request.is_secure():
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            value += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            value += "; preload"
        response.headers.setdefault("Strict-Transport-Security", value)


async def send_whole(response: HttpResponseBase, send: Send) -> None:
    """Send a non-streaming response."""
    await send({"type": "http.response.start", "status": response.status_code, "headers": _headers(response)})
    await send({"type": "http.response.body", "body": cast(HttpResponse, response).content})


class _View:
    """The task running a view, cancelled if the client disconnects before the view has answered."""

    __slots__ = ("departed", "task", "waiting")

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.task = task
        self.waiting = True
        self.departed = False

    def client_left(self, watcher: asyncio.Future[None]) -> None:
        if self.waiting and not watcher.cancelled() and watcher.exception() is None:
            self.departed = True
            self.task.cancel()


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _headers(response: HttpResponseBase) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.items()]


def where(exc: BaseException) -> str:
    """File and line where an exception was raised: enough to find it, without a traceback in the logs."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return f"{tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}" if tb else "?"
