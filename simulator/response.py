"""The Response value handlers return, plus constructors for its common shapes."""

import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

from simulator.types import Headers

IMMUTABLE = b"public, max-age=31536000, immutable"
NO_STORE_HEADERS: Headers = [
    (b"cache-control", b"no-store, no-cache, must-revalidate, proxy-revalidate"),
    (b"pragma", b"no-cache"),
    (b"expires", b"0"),
]
SSE_HEADERS: Headers = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"connection", b"keep-alive"),
]


@dataclass(slots=True)
class Response:
    """An HTTP response: a complete ``body`` or, when ``stream`` is set, an SSE/chunk iterator."""

    status: int
    headers: Headers
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None


def dumps(data: Any) -> bytes:
    """Serialise JSON compactly, as UTF-8."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def header(name: str, value: str | float) -> tuple[bytes, bytes]:
    """Build one ASGI header pair."""
    return name.encode("latin-1"), str(value).encode("latin-1")


def json_response(data: Any, status: int = 200, headers: Iterable[tuple[bytes, bytes]] = ()) -> Response:
    """A JSON response; ``data`` may already be serialised bytes."""
    body = data if isinstance(data, bytes) else dumps(data)
    return Response(status, [(b"content-type", b"application/json"), *headers], body)


def text_response(text: str, status: int = 200, headers: Iterable[tuple[bytes, bytes]] = ()) -> Response:
    """A ``text/plain; charset=utf-8`` response."""
    return Response(status, [(b"content-type", b"text/plain; charset=utf-8"), *headers], text.encode())


def binary_response(body: bytes, content_type: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> Response:
    """A response carrying media bytes of the given content type."""
    return Response(200, [header("content-type", content_type), *headers], body)


def sse_response(events: AsyncIterator[bytes], headers: Iterable[tuple[bytes, bytes]] = ()) -> Response:
    """A streamed ``text/event-stream`` response, one ASGI message per event."""
    return Response(200, [*SSE_HEADERS, *headers], stream=events)
