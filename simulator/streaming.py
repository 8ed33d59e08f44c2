"""Server-sent events for chat completions: one ``data:`` event per chunk (API doc section 2d)."""

from collections.abc import AsyncIterator
from typing import Any

from simulator.completion import Completion
from simulator.response import dumps

DONE = b"data: [DONE]\n\n"


def sse_event(data: dict[str, Any]) -> bytes:
    """One SSE event carrying ``data`` as JSON."""
    return b"data: " + dumps(data) + b"\n\n"


def _words(text: str) -> list[str]:
    """Split ``text`` into word-sized pieces that concatenate back to it exactly."""
    pieces: list[str] = []
    for word in text.split(" "):
        if pieces:
            pieces[-1] += " "
        pieces.append(word)
    return [p for p in pieces if p]


async def chat_events(completion: Completion, include_usage: bool) -> AsyncIterator[bytes]:
    """Role chunk, a content chunk per word (or one tool-call chunk), the stop chunk,
    the usage chunk when asked for, then ``[DONE]``.
    """
    head = {
        "id": completion.id,
        "object": "chat.completion.chunk",
        "created": completion.created,
        "model": completion.model,
        "system_fingerprint": "fp_simulator",
    }

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return sse_event({**head, "choices": [choice]})

    yield chunk({"role": "assistant", "content": ""})
    if completion.tool_calls:
        yield chunk({"tool_calls": [{"index": i, **call} for i, call in enumerate(completion.tool_calls)]})
    if completion.audio:
        yield chunk({"audio": completion.audio})
    for piece in _words(completion.content or ""):
        yield chunk({"content": piece})
    yield chunk({}, completion.finish_reason)
    if include_usage:
        yield sse_event({**head, "choices": [], "usage": completion.usage()})
    yield DONE
