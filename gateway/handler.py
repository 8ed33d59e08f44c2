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
from contextlib import aclosing

import structlog
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import DatabaseError, close_old_connections
from django.http import HttpResponseBase
from django.urls import URLResolver, get_resolver
from django.urls.exceptions import Resolver404

from core import tracing
from gateway.errors import DATABASE_UNAVAILABLE, INTERNAL_ERROR, GatewayError, error_response
from mcp_site import request_id
from mcp_site.metrics import UNMATCHED_ROUTE, observe_request

log = structlog.get_logger("mcp.access")
errors_log = structlog.get_logger("mcp.gateway")

#: Largest request body accepted (audio uploads are the biggest: 25 MB plus multipart overhead).
MAX_BODY_BYTES = 26 * 1024 * 1024
CHUNK_SIZE = 64 * 1024


class ClientDisconnected(Exception):
    pass


class HotPathHandler:
    """Serve the URL patterns of ``urlconf`` with async views and no per-request thread hop."""

    def __init__(self, urlconf: str = "gateway.urls", *, traced: bool = True) -> None:
        """:param traced: open a span per request when tracing is on (not for probes and scrapes)."""
        self.resolver: URLResolver = get_resolver(urlconf)
        self.traced = traced

    async def __call__(self, scope, receive, send) -> None:
        started = time.perf_counter()
        headers = dict(scope["headers"])
        rid = request_id.from_headers(headers.get(b"x-request-id", b"").decode("latin-1"))
        structlog.contextvars.bind_contextvars(request_id=rid)
        route, status, path = UNMATCHED_ROUTE, 500, scope["path"]
        server_span = tracing.start_server_span(scope["method"], headers) if self.traced else None
        try:
            try:
                body = await self._read_body(receive, headers)
                request = ASGIRequest(scope, io.BytesIO(body))
                request.request_id = rid  # type: ignore[attr-defined]
                match = self.resolver.resolve(request.path_info)
                route = match.route
                if match.kwargs and not settings.LOG_PROMPTS:
                    path = None  # a URL parameter may be a prompt (Pollinations paths): the route says enough
                request.resolver_match = match
                response = await match.func(request, *match.args, **match.kwargs)
            except Resolver404:
                response = error_response(GatewayError(404, "Unknown URL.", code="not_found"))
            except GatewayError as exc:
                response = error_response(exc)
            except ClientDisconnected:
                status = 499
                return
            except DatabaseError as exc:
                errors_log.warning("database_unavailable", error_type=type(exc).__name__, where=_where(exc))
                # This handler sends no request signals, so nothing else would drop the broken
                # connection the ORM's thread holds (after a PostgreSQL restart, every later query
                # would fail on it): close it, and the pool hands out a checked one next time.
                await sync_to_async(close_old_connections)()
                response = error_response(DATABASE_UNAVAILABLE)
            except Exception as exc:  # noqa: BLE001 - last resort: the caller gets a clean 500, the log the type.
                errors_log.error("unhandled_error", error_type=type(exc).__name__, where=_where(exc))
                response = error_response(INTERNAL_ERROR)
            status = response.status_code
            response["X-Request-ID"] = rid
            await self._send(response, send, receive)
        finally:
            elapsed = time.perf_counter() - started
            observe_request(route=route, method=scope["method"], status=status, seconds=elapsed)
            log.info("request", method=scope["method"], path=path, route=route, status=status,
                     duration_ms=round(elapsed * 1000, 2))  # fmt: skip
            tracing.end_server_span(server_span, method=scope["method"], route=route, status=status, request_id=rid)
            structlog.contextvars.clear_contextvars()

    async def _read_body(self, receive, headers: dict[bytes, bytes]) -> bytes:
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise GatewayError(
                413, f"The request body is larger than {MAX_BODY_BYTES // 2**20} MB.", code="body_too_large"
            )
        parts, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise GatewayError(
                    413, f"The request body is larger than {MAX_BODY_BYTES // 2**20} MB.", code="body_too_large"
                )
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts)

    async def _send(self, response: HttpResponseBase, send, receive) -> None:
        await send({"type": "http.response.start", "status": response.status_code, "headers": _headers(response)})
        if not response.streaming:
            await send({"type": "http.response.body", "body": response.content})
            return
        relay = asyncio.ensure_future(self._relay(response, send))
        disconnect = asyncio.ensure_future(_wait_for_disconnect(receive))
        try:
            await asyncio.wait({relay, disconnect}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # A client that left cancels the relay, which closes the upstream request with it.
            for task in (relay, disconnect):
                if not task.done():
                    task.cancel()
            await asyncio.gather(relay, disconnect, return_exceptions=True)

    async def _relay(self, response, send) -> None:
        async with aclosing(aiter(response)) as content:
            async for chunk in content:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _wait_for_disconnect(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _headers(response: HttpResponseBase) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.items()]


def _where(exc: BaseException) -> str:
    """File and line where an exception was raised: enough to find it, without a traceback in the logs."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return f"{tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}" if tb else "?"
