"""Cost of a request in credit micro-units: estimated before the upstream call, computed after.

Rounding is always up to the next micro-unit, so a price never rounds to zero.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from plugins.types import ProviderCall, Usage

#: Characters per token, for estimating a prompt before it is sent (the relay uses the same ratio).
CHARS_PER_TOKEN = 4


@dataclass(frozen=True, slots=True)
class UnitPrices:
    per_1k_input_tokens: int = 0
    per_1k_output_tokens: int = 0
    per_image: int = 0
    per_image_by_size: tuple[tuple[str, int], ...] = ()
    per_audio_second: int = 0
    per_1k_characters: int = 0

    def image_price(self, size: str | None) -> int:
        return dict(self.per_image_by_size).get(size or "", self.per_image)


FREE = UnitPrices()


def _per_1k(units: float, price: int) -> int:
    return math.ceil(units * price / 1000) if units and price else 0


def cost_of(prices: UnitPrices, call: ProviderCall, usage: Usage | None) -> int:
    """What the usage costs at these prices."""
    if usage is None:
        return 0
    size = (call.payload or {}).get("size") if call.payload else None
    return (
        _per_1k(usage.input_tokens, prices.per_1k_input_tokens)
        + _per_1k(usage.output_tokens, prices.per_1k_output_tokens)
        + usage.images * prices.image_price(size)
        + math.ceil(usage.audio_seconds * prices.per_audio_second)
        + _per_1k(usage.characters, prices.per_1k_characters)
    )


def estimate_usage(call: ProviderCall, default_max_tokens: int) -> Usage:
    """An upper bound of what the call will consume where the request bounds it (``max_tokens``, ``n``)."""
    payload: dict[str, Any] = call.payload or {}
    if call.modality == "image":
        return Usage(images=_int(payload.get("n"), 1))
    if call.operation == "speech":
        return Usage(characters=len(str(payload.get("input", ""))))
    if call.operation == "transcription":
        # An upload's length is unknown until the upstream reports it: reserve a minute per MB.
        return Usage(audio_seconds=max(60.0, 60.0 * len(call.body or b"") / 1_000_000))
    prompt = json.dumps(payload.get("messages", "")) if payload else (call.raw_path + call.raw_query)
    max_tokens = _int(payload.get("max_completion_tokens") or payload.get("max_tokens"), default_max_tokens)
    return Usage(input_tokens=math.ceil(len(prompt) / CHARS_PER_TOKEN), output_tokens=max_tokens)


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default
