"""Pollinations.AI providers: text, image and audio, over the ``gen.`` API and the legacy hosts.

OpenAI-shaped calls go to ``{POLLINATIONS_GEN_URL}/v1/...``. Native calls (a Pollinations URL with
only the host swapped) go to the host family they came for, with the path and query forwarded
byte for byte, minus the caller's gateway key; the gateway's own upstream key is added instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from plugins.builtin.openai_compatible import OpenAICompatibleProvider
from plugins.errors import UpstreamError
from plugins.hookspecs import hookimpl
from plugins.http import send
from plugins.types import ModelInfo, PriceRule, Provider, ProviderCall, ProviderSettings, UpstreamResponse

CHAT_OPS = frozenset({"chat", "native"})
IMAGE_OPS = frozenset({"image", "native"})
#: openai-audio also answers chat (text and audio in and out, ``modalities``); elevenlabs and whisper do
#: not: the upstream refuses them there ("Invalid value for: model"), so the gateway does before calling it.
VOICE_CHAT_OPS = frozenset({"speech", "chat", "native"})
SPEECH_OPS = frozenset({"speech", "native"})
TRANSCRIPTION_OPS = frozenset({"transcription"})

TEXT_MODELS = (
    ModelInfo("openai", "text", CHAT_OPS, aliases=("gpt-5-nano",), capabilities=("tools", "json", "vision", "stream")),
    ModelInfo(
        "openai-fast", "text", CHAT_OPS, aliases=("gpt-oss", "gpt-oss-20b"), capabilities=("tools", "json", "stream")
    ),
    ModelInfo("openai-large", "text", CHAT_OPS, capabilities=("tools", "json", "vision", "stream")),
    ModelInfo("mistral", "text", CHAT_OPS, capabilities=("tools", "json", "stream")),
    ModelInfo("deepseek-reasoning", "text", CHAT_OPS, capabilities=("reasoning", "stream")),
)
IMAGE_MODELS = (
    ModelInfo("flux", "image", IMAGE_OPS),
    ModelInfo("turbo", "image", IMAGE_OPS),
    ModelInfo("kontext", "image", IMAGE_OPS, capabilities=("image-input",)),
    ModelInfo("gptimage", "image", IMAGE_OPS, capabilities=("transparent",)),
    ModelInfo("zimage", "image", IMAGE_OPS),
    ModelInfo("sana", "image", IMAGE_OPS),
)
AUDIO_MODELS = (
    ModelInfo("openai-audio", "audio", VOICE_CHAT_OPS, aliases=("tts-1",), capabilities=("voices",)),
    ModelInfo("elevenlabs", "audio", SPEECH_OPS, capabilities=("voices",)),
    ModelInfo("whisper-large-v3", "audio", TRANSCRIPTION_OPS, aliases=("whisper-1",)),
)

#: Default prices in credit micro-units; operators override them in billing.
DEFAULT_PRICES = (
    *(PriceRule(m.id, per_1k_input_tokens=150, per_1k_output_tokens=600) for m in TEXT_MODELS),
    *(PriceRule(m.id, per_image=10_000) for m in IMAGE_MODELS),
    # Speech is billed by the characters spoken, a chat with it by its tokens as any chat.
    PriceRule("openai-audio", per_1k_characters=15_000, per_1k_input_tokens=150, per_1k_output_tokens=600),
    PriceRule("elevenlabs", per_1k_characters=15_000),
    PriceRule("whisper-large-v3", per_audio_second=100),
)


class _PollinationsProvider(OpenAICompatibleProvider):
    """Shared plumbing: OpenAI-shaped calls under ``/v1`` of the gen host, native calls per host family."""

    version: ClassVar[str] = "1.0"
    catalogue: ClassVar[tuple[ModelInfo, ...]] = ()
    #: Which ``options`` key holds each host family's base URL.
    host_options: ClassVar[Mapping[str, str]] = {"gen": "gen_url", "image": "image_url", "text": "text_url"}

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        self.gen_url = self.base_url
        self.base_url = f"{self.gen_url}/v1"

    @classmethod
    def default_instances(cls, env: Mapping[str, Any]) -> list[ProviderSettings]:
        return [
            ProviderSettings(
                name=cls.kind,
                kind=cls.kind,
                base_url=env["POLLINATIONS_GEN_URL"],
                credential=env["POLLINATIONS_API_KEY"],
                priority=100,
                options={
                    "gen_url": env["POLLINATIONS_GEN_URL"],
                    "image_url": env["POLLINATIONS_IMAGE_URL"],
                    "text_url": env["POLLINATIONS_TEXT_URL"],
                },
            )
        ]

    def models(self) -> list[ModelInfo]:
        return [*self.catalogue, *super().models()]

    def prices(self) -> list[PriceRule]:
        served = {m.id for m in self.catalogue}
        return [rule for rule in DEFAULT_PRICES if rule.model in served]

    async def open(self, call: ProviderCall) -> UpstreamResponse:
        if call.operation != "native":
            return await super().open(call)
        base = str(self.settings.options.get(self.host_options[call.host]) or self.gen_url).rstrip("/")
        url = base + call.raw_path + (f"?{call.raw_query}" if call.raw_query else "")
        headers = {
            **call.forward_headers,
            **self.auth_headers(),
            "Accept-Encoding": "identity",
            "X-Request-ID": call.request_id,
        }
        if call.content_type:
            headers["Content-Type"] = call.content_type
        if call.method not in ("GET", "POST", "HEAD"):
            raise UpstreamError("Method not allowed.", client_status=405)
        return await send(self.pool, call.method, url, headers=headers, data=call.body)


class PollinationsTextProvider(_PollinationsProvider):
    kind: ClassVar[str] = "pollinations-text"
    modalities: ClassVar[frozenset[str]] = frozenset({"text"})
    catalogue = TEXT_MODELS


class PollinationsImageProvider(_PollinationsProvider):
    kind: ClassVar[str] = "pollinations-image"
    modalities: ClassVar[frozenset[str]] = frozenset({"image"})
    catalogue = IMAGE_MODELS


class PollinationsAudioProvider(_PollinationsProvider):
    kind: ClassVar[str] = "pollinations-audio"
    modalities: ClassVar[frozenset[str]] = frozenset({"audio"})
    catalogue = AUDIO_MODELS


# trylast: an installed plugin declaring the same kind is collected first, and wins.
@hookimpl(trylast=True)
def mcp_provider_classes() -> list[type[Provider]]:
    return [PollinationsTextProvider, PollinationsImageProvider, PollinationsAudioProvider]
