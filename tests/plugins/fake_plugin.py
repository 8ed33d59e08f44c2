"""A fake provider plugin implementing every hook, the way a third-party plugin would.

``fake-1`` answers ``chat`` locally with a fixed JSON completion. ``mcp_request`` refuses prompts
containing :data:`REFUSED_WORD`; ``mcp_response`` appends each outcome to :data:`OUTCOMES`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

from plugins.hookspecs import hookimpl
from plugins.types import (
    Caller,
    JobCallback,
    ModelInfo,
    Outcome,
    Provider,
    ProviderCall,
    ProviderSettings,
    UpstreamResponse,
    Usage,
)

REFUSED_WORD = "forbidden-fruit"
OUTCOMES: list[tuple[ProviderCall, Caller, Outcome]] = []


class FakeProvider(Provider):
    kind: ClassVar[str] = "fake"
    version: ClassVar[str] = "1.0"
    modalities: ClassVar[frozenset[str]] = frozenset({"text"})
    required_settings: ClassVar[tuple[str, ...]] = ("greeting",)
    default_options: ClassVar[Mapping[str, Any]] = {"greeting": "hello", "punctuation": "!"}

    @classmethod
    def default_instances(cls, env: Mapping[str, Any]) -> list[ProviderSettings]:
        return [ProviderSettings(name="fake", kind=cls.kind, base_url="")]

    def models(self) -> list[ModelInfo]:
        return [ModelInfo("fake-1", "text", frozenset({"chat"}), owned_by="fake")]

    async def open(self, call: ProviderCall) -> UpstreamResponse:
        content = f"{self.settings.options['greeting']}{self.settings.options['punctuation']}"

        async def body() -> AsyncIterator[bytes]:
            yield json.dumps(
                {
                    "object": "chat.completion",
                    "model": call.model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
                }
            ).encode()

        async def close() -> None:
            return None

        return UpstreamResponse(200, "application/json", [], body(), close)

    def usage(self, call: ProviderCall, status: int, headers: list[tuple[str, str]], body_tail: bytes) -> Usage | None:
        return Usage(input_tokens=3, output_tokens=1)


@hookimpl
def mcp_provider_classes() -> list[type[Provider]]:
    return [FakeProvider]


@hookimpl
def mcp_request(call: ProviderCall, caller: Caller) -> str | None:
    if REFUSED_WORD in json.dumps(call.payload or {}):
        return f"Requests about {REFUSED_WORD} are refused."
    return None


@hookimpl
def mcp_response(call: ProviderCall, caller: Caller, outcome: Outcome) -> None:
    OUTCOMES.append((call, caller, outcome))


@hookimpl
def mcp_job_callback(provider: str, payload: dict) -> JobCallback | None:
    # The fake provider reports {"fake_job": <id>, "ok": <bool>}; other providers are not its business.
    if provider != "fake":
        return None
    return JobCallback(
        job_id=str(payload["fake_job"]), succeeded=bool(payload["ok"]), error_message=payload.get("why", "")
    )
