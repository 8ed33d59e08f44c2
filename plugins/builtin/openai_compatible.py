"""A provider for any OpenAI-compatible API: OpenAI, Azure OpenAI, vLLM, Ollama, another Pollinations account.

Configured in the admin with a base URL (ending in ``/v1`` for most services), a credential, the
models it serves and optional aliases. It is also the base class of the Pollinations providers,
since Pollinations' ``gen.`` API speaks the same dialect under ``/v1``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import unquote

from core import json_codec
from plugins.errors import UpstreamError
from plugins.hookspecs import hookimpl
from plugins.http import SessionPool, send
from plugins.types import (
    OPERATION_MODALITY,
    Modality,
    ModelInfo,
    Provider,
    ProviderCall,
    ProviderSettings,
    UpstreamResponse,
    Usage,
    is_modality,
)

#: Upstream path, relative to the base URL, of each OpenAI-shaped operation.
OPERATION_PATHS: Mapping[str, str] = {
    "chat": "/chat/completions",
    "image": "/images/generations",
    "speech": "/audio/speech",
    "transcription": "/audio/transcriptions",
}
_MODALITY_OPERATIONS: dict[Modality, frozenset[str]] = {
    "text": frozenset({"chat"}),
    "image": frozenset({"image"}),
    "audio": frozenset({"speech", "transcription"}),
}
_USAGE_RE = re.compile(rb'"usage"\s*:\s*(\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\})')
_HEADER_USAGE = {
    "x-usage-prompt-text-tokens": "input_tokens",
    "x-usage-completion-text-tokens": "output_tokens",
    # A transcription's measured input (Pollinations' whisper answers carry it): billed per audio second.
    "x-usage-prompt-audio-seconds": "audio_seconds",
}


def _header_number(value: str) -> float | None:
    """A usage header's value if it is a finite, non-negative decimal number (``12``, ``12.5``), else ``None``."""
    if not value.isascii():  # "²".isdigit() is true, and float() refuses it
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


class OpenAICompatibleProvider(Provider):
    kind: ClassVar[str] = "openai-compatible"
    version: ClassVar[str] = "1.0"
    modalities: ClassVar[frozenset[str]] = frozenset({"text", "image", "audio"})
    required_settings: ClassVar[tuple[str, ...]] = ("base_url",)

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        self.base_url = settings.base_url.rstrip("/")
        self.pool = SessionPool(settings.connect_timeout, settings.read_timeout)

    def models(self) -> list[ModelInfo]:
        return [
            ModelInfo(id=model_id, modality=modality, operations=_MODALITY_OPERATIONS[modality], owned_by=self.name)
            for model_id, modality in self.settings.extra_models.items()
            if is_modality(modality)
        ]

    def auth_headers(self) -> dict[str, str]:
        credential = self.settings.credential
        return {"Authorization": f"Bearer {credential}"} if credential else {}

    def upstream_model(self, model: str) -> str:
        return self.settings.model_aliases.get(model, model)

    async def open(self, call: ProviderCall) -> UpstreamResponse:
        if call.operation == "native":
            raise UpstreamError("This provider does not serve Pollinations URLs.", client_status=404)
        headers = {
            **call.forward_headers,
            **self.auth_headers(),
            "Accept-Encoding": "identity",
            "X-Request-ID": call.request_id,
        }
        body: bytes | None
        if call.payload is not None:
            payload = {**call.payload, "model": self.upstream_model(call.model)}
            body = json_codec.dumps(payload)
            headers["Content-Type"] = "application/json"
        else:
            body = call.body
            headers["Content-Type"] = call.content_type or "application/octet-stream"
        return await send(
            self.pool, "POST", self.base_url + OPERATION_PATHS[call.operation], headers=headers, data=body
        )

    def usage(self, call: ProviderCall, status: int, headers: list[tuple[str, str]], body_tail: bytes) -> Usage | None:
        return usage_from_answer(call, headers, body_tail)

    async def aclose(self) -> None:
        await self.pool.aclose()

    async def close_loop_sessions(self) -> None:
        await self.pool.aclose_in_running_loop()


#: First path segments of the Pollinations routes that take the text (prompt) after them.
_NATIVE_PREFIXES = frozenset({"audio", "text", "openai", "prompt", "image"})


def spoken_text(raw_path: str) -> str:
    """The text of a speech-by-URL path: ``/audio/{text}``, ``/text/{text}``, the legacy ``/{text}``."""
    path = raw_path.lstrip("/")
    head, _, rest = path.partition("/")
    return unquote(rest if rest and head in _NATIVE_PREFIXES else path)


def usage_from_answer(call: ProviderCall, headers: list[tuple[str, str]], body_tail: bytes) -> Usage | None:
    """Usage reported by the upstream, from Pollinations' ``x-usage-*`` headers or an OpenAI ``usage`` object."""
    modality = OPERATION_MODALITY.get(call.operation, call.modality)
    if modality == "image":
        count = int((call.payload or {}).get("n", 1) or 1) if call.payload else 1
        return Usage(images=count)
    if call.operation == "speech":
        return Usage(characters=len(str((call.payload or {}).get("input", ""))))
    if call.operation == "native" and modality == "audio":
        # Speech by URL (/audio/{text}, /text/{text}?model=openai-audio): charged like /v1/audio/speech.
        return Usage(characters=len(spoken_text(call.raw_path)))
    reported: dict[str, Any] = {}
    for name, value in headers:
        field = _HEADER_USAGE.get(name.lower())
        number = _header_number(value) if field else None
        if field == "audio_seconds" and number is not None:
            reported[field] = number
        elif field and number is not None and number.is_integer():  # tokens are whole
            reported[field] = int(number)
    # The last usage object in the tail is the final one (streams may repeat it).
    matches = _USAGE_RE.findall(body_tail)
    if matches:
        try:
            usage = json_codec.loads(matches[-1])
            reported.update(
                input_tokens=int(usage.get("prompt_tokens") or 0),
                output_tokens=int(usage.get("completion_tokens") or 0),
            )
        except (ValueError, TypeError, AttributeError):
            pass
    return Usage(**reported) if reported else None


# trylast: an installed plugin declaring the same kind is collected first, and wins.
@hookimpl(trylast=True)
def mcp_provider_classes() -> list[type[Provider]]:
    return [OpenAICompatibleProvider]
