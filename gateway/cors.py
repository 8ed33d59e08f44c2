"""Cross-origin calls to the API (``/v1`` and the Pollinations paths) from web pages, as Pollinations
answers them: a page of an allowed origin may call the gateway with its key and read the answer.

The API authenticates only with the key the caller sends (a header or ``?key=``), never with a
cookie, so letting another origin read an answer gives it nothing its own key does not: the
default, as Pollinations', is every origin (``API_CORS_ORIGINS=*``), and credentials are never
allowed. An operator can list the origins instead, or turn cross-origin reads off (empty).
"""

from __future__ import annotations

import re

from django.conf import settings
from django.http import HttpResponse, HttpResponseBase
from django.utils.cache import patch_vary_headers

ALLOW_METHODS = "GET, HEAD, POST, DELETE, OPTIONS"
#: Sent when a preflight asks for no header, or for a list this module will not echo.
ALLOW_HEADERS = "Authorization, Content-Type, X-API-Key, X-Request-ID, Idempotency-Key, traceparent, tracestate"
#: How long a browser may reuse a preflight's answer.
MAX_AGE_SECONDS = 600
#: A preflight's requested headers are echoed when they are a plain list of header names.
_HEADER_LIST = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+(?:[ \t]*,[ \t]*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*")
_MAX_REQUESTED = 1024


def allowed_origin(headers: dict[bytes, bytes]) -> str | None:
    """What ``Access-Control-Allow-Origin`` says to this request: ``*``, its own origin, or ``None``
    (no ``Origin`` header, or one not allowed: no CORS header, and the browser keeps the answer from the page)."""
    origin = headers.get(b"origin")
    if origin is None:
        return None
    allowed = settings.API_CORS_ORIGINS
    if allowed == ("*",):
        return "*"
    value = origin.decode("latin-1")
    return value if value in allowed else None


def is_preflight(method: str, headers: dict[bytes, bytes]) -> bool:
    return method == "OPTIONS" and b"access-control-request-method" in headers


def preflight_response(origin: str, headers: dict[bytes, bytes]) -> HttpResponse:
    """The answer to a browser's preflight from an allowed origin: which methods and headers it may send."""
    response = HttpResponse(status=204)
    del response["Content-Type"]  # no content, so no type (Django labels every response text/html)
    requested = headers.get(b"access-control-request-headers", b"").decode("latin-1").strip()
    echo = len(requested) <= _MAX_REQUESTED and _HEADER_LIST.fullmatch(requested)
    response["Access-Control-Allow-Methods"] = ALLOW_METHODS
    response["Access-Control-Allow-Headers"] = requested if echo else ALLOW_HEADERS
    response["Access-Control-Max-Age"] = str(MAX_AGE_SECONDS)
    return response


def add_cors_headers(response: HttpResponseBase, origin: str | None) -> None:
    """Let an allowed origin read ``response`` (every header of it, errors included); with a list of
    origins, every answer varies by ``Origin``, so a cache never serves one origin's answer to another."""
    if origin is not None:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Expose-Headers"] = "*"
    if settings.API_CORS_ORIGINS not in (("*",), ()):
        patch_vary_headers(response, ("Origin",))
