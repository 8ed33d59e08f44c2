"""Per-request context: request id, structured access log line, Prometheus metrics.

Written as a plain function middleware that is both sync- and async-capable, so it adds no thread
hop to async views.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog
from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils.decorators import sync_and_async_middleware

from core import request_id
from core.metrics import UNMATCHED_ROUTE, observe_request

log = structlog.get_logger("mcp.access")


def _start(request: HttpRequest) -> tuple[str, float]:
    rid = request_id.from_meta(request.META)
    # For the views and the error pages; Django's request takes attributes the stubs do not declare.
    request.request_id = rid  # type: ignore[attr-defined]
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=rid)
    return rid, time.perf_counter()


def _finish(request: HttpRequest, response: HttpResponseBase, rid: str, started: float) -> HttpResponseBase:
    elapsed = time.perf_counter() - started
    match = getattr(request, "resolver_match", None)
    route = match.route if match is not None and match.route else UNMATCHED_ROUTE
    response[request_id.HEADER] = rid
    if response.get("Content-Type", "").startswith("text/html") and "Content-Security-Policy" not in response:
        response["Content-Security-Policy"] = settings.CONTENT_SECURITY_POLICY
    observe_request(route=route, method=request.method or "", status=response.status_code, seconds=elapsed)
    log.info(
        "request",
        method=request.method,
        path=request.path,
        route=route,
        status=response.status_code,
        duration_ms=round(elapsed * 1000, 2),
    )
    return response


@sync_and_async_middleware
def request_context_middleware(get_response: Callable[[HttpRequest], Any]) -> Callable[[HttpRequest], Any]:
    """Bind a request id to the logs, answer it in ``X-Request-ID``, record metrics, set the CSP."""
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponseBase:
            rid, started = _start(request)
            try:
                response = await get_response(request)
                return _finish(request, response, rid, started)
            finally:
                structlog.contextvars.clear_contextvars()

        markcoroutinefunction(async_middleware)
        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponseBase:
        rid, started = _start(request)
        try:
            return _finish(request, get_response(request), rid, started)
        finally:
            structlog.contextvars.clear_contextvars()

    return middleware


__all__ = ["request_context_middleware"]
