"""Request ids: taken from ``X-Request-ID`` when the caller sends a sane one, generated otherwise."""

from __future__ import annotations

import re

from core.ids import fresh_id

HEADER = "X-Request-ID"
_META_KEY = "HTTP_X_REQUEST_ID"
# Accept ids from load balancers and clients, but never let one inject text into logs or headers.
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def from_meta(meta: dict[str, str]) -> str:
    """Return the caller's request id if it is well-formed, else a new random one."""
    candidate = meta.get(_META_KEY, "")
    return candidate if _VALID.match(candidate) else fresh_id()


def from_headers(value: str | None) -> str:
    """Same as :func:`from_meta` for a raw header value (used by the ASGI hot path)."""
    return value if value and _VALID.match(value) else fresh_id()
