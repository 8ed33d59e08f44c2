"""EchoProvider: serves ``echo-1`` (text, chat) from an async generator, streaming or not."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

from plugins import ModelInfo, Provider, ProviderCall, ProviderSettings, UpstreamResponse, Usage

MODEL = ModelInfo("echo-1", "text", frozenset({"chat"}), owned_by="echo", capabilities=("stream",))


class EchoProvider(Provider):
    """Answers with the last user message, after a configurable prefix."""

    kind: ClassVar[str] = "echo"
    version: ClassVar[str] = "1.0.0"
    min_gateway_version: ClassVar[str] = "0.1"
    max_gateway_version: ClassVar[str | None] = None
    modalities: ClassVar[frozenset[str]] = frozenset({"text"})
    # No base URL or credential: nothing leaves the process.
    required_settings: ClassVar[tuple[str, ...]] = ()
    default_options: ClassVar[Mapping[str, Any]] = {"prefix": "echo: "}

    @classmethod
    def default_instances(cls, env: Mapping[str, Any]) -> list[ProviderSettings]:
        # Installing the plugin is enough to serve echo-1; an admin row named "echo" overrides this one.
        return [ProviderSettings(name="echo", kind=cls.kind, base_url="", priority=1000)]

    def models(self) -> list[ModelInfo]:
        return [MODEL]

    def answer(self, call: ProviderCall) -> str:
        return str(self.settings.options["prefix"]) + _last_user_message(call)

    async def open(self, call: ProviderCall) -> UpstreamResponse:
        text = self.answer(call)
        if call.stream:
            body, content_type = _sse(call, text), "text/event-stream"
        else:
            body, content_type = _json(call, text), "application/json"
        return UpstreamResponse(status=200, content_type=content_type, headers=[], body=body, close=body.aclose)

    def usage(self, call: ProviderCall, status: int, headers: list[tuple[str, str]], body_tail: bytes) -> Usage | None:
        # The answer is known before it is sent: no need to parse it back out of the body.
        counted = _usage_json(self.answer(call), call)
        return Usage(input_tokens=counted["prompt_tokens"], output_tokens=counted["completion_tokens"])


def _last_user_message(call: ProviderCall) -> str:
    for message in reversed((call.payload or {}).get("messages") or ()):
        if isinstance(message, dict) and message.get("role") == "user" and isinstance(message.get("content"), str):
            return message["content"]
    return ""


def _usage_json(text: str, call: ProviderCall) -> dict[str, int]:
    # Whitespace-separated words stand for tokens.
    prompt = len(_last_user_message(call).split())
    completion = len(text.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _completion_id(call: ProviderCall) -> str:
    return f"chatcmpl-echo-{call.request_id}"


async def _json(call: ProviderCall, text: str) -> AsyncIterator[bytes]:
    yield json.dumps(
        {
            "id": _completion_id(call),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": call.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": _usage_json(text, call),
        }
    ).encode()


async def _sse(call: ProviderCall, text: str) -> AsyncIterator[bytes]:
    """OpenAI's chunk shape: a role delta, one delta per word, a finish chunk, usage if asked, ``[DONE]``."""
    base = {
        "id": _completion_id(call),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": call.model,
    }

    def event(payload: dict[str, Any]) -> bytes:
        # One whole event per chunk: the gateway relays chunks as they come.
        return b"data: " + json.dumps(payload).encode() + b"\n\n"

    yield event({**base, "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]})
    words = text.split(" ")
    for i, word in enumerate(words):
        piece = word if i == len(words) - 1 else word + " "
        yield event({**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
    yield event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if ((call.payload or {}).get("stream_options") or {}).get("include_usage"):
        yield event({**base, "choices": [], "usage": _usage_json(text, call)})
    yield b"data: [DONE]\n\n"
