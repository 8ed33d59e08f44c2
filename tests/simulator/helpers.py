"""Small helpers shared by the simulator contract tests."""

import json
import time
import uuid
from typing import Any

import httpx


def unique(label: str = "prompt") -> str:
    """A prompt no other test uses, so caches, dedup and feeds do not interfere."""
    return f"{label} {uuid.uuid4().hex[:12]}"


def sse_data(text: str) -> list[str]:
    """The ``data:`` payloads of an SSE body, in order."""
    return [line[6:] for line in text.split("\n") if line.startswith("data: ")]


def sse_json(text: str) -> list[dict[str, Any]]:
    """The JSON chunks of an SSE body, without the ``[DONE]`` marker."""
    return [json.loads(data) for data in sse_data(text) if data != "[DONE]"]


def chat_body(content: str, **extra: Any) -> dict[str, Any]:
    """A one-message chat completion body."""
    return {"model": "openai", "messages": [{"role": "user", "content": content}], **extra}


def records(base_url: str, since: int = 0) -> dict[str, Any]:
    """The simulator's request log."""
    return httpx.get(f"{base_url}/_sim/requests", params={"since": since}).json()


def find_record(base_url: str, marker: str, timeout: float = 5.0, **expect: Any) -> dict[str, Any]:
    """The log record whose ``x-test-id`` header is ``marker``, once it matches ``expect``."""
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in records(base_url)["requests"] if r["headers"].get("x-test-id") == marker]
        if found and all(found[-1].get(k) == v for k, v in expect.items()):
            return found[-1]
        if time.monotonic() > deadline:
            raise AssertionError(f"no record for {marker} matching {expect}: {found}")
        time.sleep(0.05)
