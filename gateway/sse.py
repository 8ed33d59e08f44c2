"""Server-sent events from an upstream, framed and checked one whole event at a time.

Events are only judged once complete, so an event split across two reads at any byte is still
recognised; everything before the last event boundary is handed on at once, so no complete event
waits for the next read. Each event must carry JSON (or ``[DONE]``): a broken event or an error
object ends the stream (``failed``), and neither is passed on. Along the way it counts the text
the answer generated (for usage the upstream does not report) and, for a client that did not ask
for it, drops the usage-only event the gateway requested so it can bill the stream.
"""

from __future__ import annotations

from typing import Any

from core import json_codec
from core.errors import HttpError
from gateway.answers import error_object

#: No event is this long: an unterminated one that is has broken the stream.
MAX_EVENT_BYTES = 1024 * 1024
_DONE = b"[DONE]"


def _broken() -> HttpError:
    return HttpError(502, "The upstream provider sent a malformed event.", type="upstream_error", code="upstream_error")


def _failed_upstream() -> HttpError:
    return HttpError(502, "The upstream provider failed while answering.", type="upstream_error", code="upstream_error")


def generated_characters(chunk: dict) -> int:
    """Characters of generated text in one chat chunk (content, reasoning, tool-call arguments)."""
    count = 0
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if not isinstance(delta, dict):
            continue
        for name in ("content", "reasoning_content"):
            value = delta.get(name)
            if isinstance(value, str):
                count += len(value)
        for call in delta.get("tool_calls") or ():
            arguments = (call.get("function") or {}).get("arguments") if isinstance(call, dict) else None
            if isinstance(arguments, str):
                count += len(arguments)
    return count


class EventStream:
    """Feed it the stream's chunks in order; it returns what the client may see of each.

    :param strip_usage: drop the usage-only event (``"choices": []`` with ``usage``).
    """

    __slots__ = ("_pending", "characters", "done", "failed", "strip_usage")

    def __init__(self, *, strip_usage: bool = False) -> None:
        self._pending = b""
        #: Generated text relayed so far, in characters.
        self.characters = 0
        self.strip_usage = strip_usage
        #: The error that ended the stream (a broken or error event), once one arrived.
        self.failed: HttpError | None = None
        #: Whether ``[DONE]`` went by.
        self.done = False

    def feed(self, chunk: bytes) -> bytes:
        """The complete, acceptable events ``pending + chunk`` finishes; the incomplete rest waits."""
        data = self._pending + chunk if self._pending else chunk
        if b"\r" in data:
            # CRLF streams are framed on a normalised copy and relayed normalised.
            data = data.replace(b"\r\n", b"\n")
        cut = data.rfind(b"\n\n")
        if cut < 0:
            self._pending = data
            if len(data) > MAX_EVENT_BYTES:
                self.failed = _broken()
            return b""
        complete, self._pending = data[: cut + 2], data[cut + 2 :]
        events = complete.split(b"\n\n")
        out: list[bytes] | None = None  # None: every event so far is relayed as it came
        for index, event in enumerate(events[:-1]):
            keep = self._accept(event)
            if keep and out is None:
                continue
            if out is None:
                out = [e + b"\n\n" for e in events[:index]]
            if self.failed is not None:
                break
            if keep:
                out.append(event + b"\n\n")
        return complete if out is None else b"".join(out)

    def end(self) -> bytes:
        """What is left when the upstream ends cleanly: an unterminated last event, if acceptable."""
        rest, self._pending = self._pending, b""
        if not rest.strip():
            return b""
        return rest if self._accept(rest.rstrip(b"\n")) else b""

    def _accept(self, event: bytes) -> bool:
        """Whether to relay ``event``; a broken or error event sets ``failed``."""
        if not event.strip():
            return False
        payload = b"\n".join(line[5:].lstrip() for line in event.split(b"\n") if line.startswith(b"data:"))
        if not payload:
            return True  # a comment or a keep-alive
        if payload.strip() == _DONE:
            self.done = True
            return True
        try:
            parsed: Any = json_codec.loads(payload)
        except ValueError:
            self.failed = _broken()
            return False
        if not isinstance(parsed, dict):
            return True
        if error_object(parsed):
            self.failed = _failed_upstream()
            return False
        self.characters += generated_characters(parsed)
        return not (self.strip_usage and parsed.get("choices") == [] and "usage" in parsed)


__all__ = ["MAX_EVENT_BYTES", "EventStream", "generated_characters"]
