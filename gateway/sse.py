"""Removing the usage-only event from a chat stream, however the upstream's reads cut it.

The gateway asks every chat stream for usage (``stream_options.include_usage``) so it can bill it;
a client that did not ask must not see that extra event. Events are only judged once complete,
so an event split across two reads at any byte is still recognised; everything before the last
event boundary is handed on at once, so no complete event waits for the next read.
"""

from __future__ import annotations

import json
import re

_BOUNDARY = re.compile(rb"\r?\n\r?\n")
#: A usage event is a few hundred bytes: a longer unterminated event is not one, and is passed on.
MAX_HELD_BYTES = 64 * 1024


def _is_usage_only(event: bytes) -> bool:
    """``data: {... "choices": [], "usage": {...}}``: the event the client did not ask for."""
    if b'"usage"' not in event or not event.startswith(b"data:"):
        return False
    try:
        data = json.loads(event[5:])
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("choices") == [] and "usage" in data


class UsageEventFilter:
    """Feed it the stream's chunks in order; it returns what the client may see of each."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes) -> bytes:
        """The complete events of ``pending + chunk`` minus usage-only ones; the incomplete rest waits."""
        data = self._pending + chunk
        ends = [match.end() for match in _BOUNDARY.finditer(data)]
        if not ends:
            self._pending = b"" if len(data) > MAX_HELD_BYTES else data
            return data if len(data) > MAX_HELD_BYTES else b""
        self._pending = data[ends[-1] :]
        if b'"usage"' not in data:
            return data[: ends[-1]]
        kept, start = [], 0
        for end in ends:
            event = data[start:end]
            if not _is_usage_only(event):
                kept.append(event)
            start = end
        return b"".join(kept)

    def end(self) -> bytes:
        """What is left when the stream ends cleanly (an unterminated last event, unless it is usage)."""
        rest, self._pending = self._pending, b""
        return b"" if _is_usage_only(rest) else rest
