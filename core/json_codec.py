"""JSON on the hot path: the standard library's answers, at msgspec's speed.

Every proxied call encodes the client's payload for the upstream, records its hold for the
reconciler and parses the upstream's answer (and each event of a stream); with the standard
library's pure-Python encoder and its decoder, that was a few percent of a request's CPU.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


def loads(data: bytes) -> Any:
    """What ``json.loads(data)`` returns, or the ``ValueError`` it raises.

    msgspec reads a subset of what the standard library accepts, with the same values; the rest
    (``NaN``, numbers beyond a double, lone surrogates, UTF-16 or a byte order mark) is left to the
    standard library, so an upstream answer is judged exactly as before.
    """
    try:
        return _decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return json.loads(data)


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON of ``value`` (dicts, lists, strings, numbers, booleans, ``None``).

    Unlike ``json.dumps`` it writes non-ASCII characters as UTF-8 instead of ``\\u`` escapes (the
    same JSON text, shorter), and ``NaN`` and infinities as ``null`` instead of tokens that are not
    JSON (a client's payload, read by msgspec, never holds them).
    """
    return _encode(value)
