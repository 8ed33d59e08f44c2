"""Model catalogues and their list bodies in each era's shape (API doc sections 1c and 2e)."""

from dataclasses import dataclass, field
from typing import Any

from simulator.response import dumps

CREATED = 1735689600  # fixed so list bodies are byte-stable
OPENAI_VOICES = (
    "alloy",
    "echo",
    "fable",
    "onyx",
    "nova",
    "shimmer",
    "ash",
    "ballad",
    "coral",
    "sage",
    "verse",
)
ELEVENLABS_VOICES = ("rachel", "domi", "bella", "adam", "josh", "elli", "sam")
LEGACY_AUDIO_VOICES = (*OPENAI_VOICES, "amuch", "dan")
GEN_VOICES = (*OPENAI_VOICES, *ELEVENLABS_VOICES)


@dataclass(frozen=True)
class Model:
    """One catalogue entry; ``tier`` gates legacy use, ``kind`` picks the lists it appears in."""

    name: str
    kind: str  # "text" | "image" | "audio"
    description: str
    tier: str = "anonymous"
    aliases: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ("text",)
    outputs: tuple[str, ...] = ("text",)
    tools: bool = False
    reasoning: bool = False
    community: bool = False
    paid_only: bool = False
    voices: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


TEXT_MODELS = (
    Model(
        "openai",
        "text",
        "OpenAI GPT-5 Nano (simulated)",
        aliases=("gpt-5-nano",),
        inputs=("text", "image"),
        tools=True,
    ),
    Model(
        "openai-fast",
        "text",
        "OpenAI GPT-OSS 20B (simulated)",
        aliases=("gpt-oss", "gpt-oss-20b", "ovh-reasoning"),
        tools=True,
    ),
    Model(
        "openai-large",
        "text",
        "OpenAI GPT-5 (simulated)",
        tier="flower",
        aliases=("gpt-5",),
        inputs=("text", "image"),
        tools=True,
        paid_only=True,
    ),
    Model(
        "openai-audio",
        "text",
        "OpenAI GPT-4o mini audio (simulated)",
        tier="seed",
        inputs=("text", "image", "audio"),
        outputs=("text", "audio"),
        tools=True,
        voices=LEGACY_AUDIO_VOICES,
    ),
    Model("mistral", "text", "Mistral Small (simulated)", tools=True),
    Model("deepseek-reasoning", "text", "DeepSeek R1 (simulated)", tier="seed", reasoning=True),
    Model(
        "unity",
        "text",
        "Unity community model (simulated)",
        tier="seed",
        community=True,
        extra={"uncensored": True},
    ),
)
IMAGE_MODELS = (
    Model("flux", "image", "Flux Schnell (simulated)", outputs=("image",)),
    Model("turbo", "image", "SDXL Turbo (simulated)", outputs=("image",)),
    Model("zimage", "image", "Z-Image Turbo (simulated)", outputs=("image",)),
    Model("sana", "image", "Sana (simulated)", outputs=("image",)),
    Model(
        "kontext",
        "image",
        "Flux Kontext (simulated)",
        tier="seed",
        inputs=("text", "image"),
        outputs=("image",),
    ),
    Model(
        "gptimage",
        "image",
        "GPT Image 1 Mini (simulated)",
        tier="nectar",
        aliases=("gpt-image",),
        inputs=("text", "image"),
        outputs=("image",),
        paid_only=True,
    ),
)
AUDIO_MODELS = (
    Model(
        "openai-audio",
        "audio",
        "OpenAI TTS voices (simulated)",
        aliases=("tts-1",),
        outputs=("audio",),
        voices=OPENAI_VOICES,
    ),
    Model(
        "elevenlabs",
        "audio",
        "ElevenLabs voices (simulated)",
        outputs=("audio",),
        voices=ELEVENLABS_VOICES,
    ),
    Model(
        "whisper-large-v3",
        "audio",
        "Whisper transcription (simulated)",
        aliases=("whisper-1",),
        inputs=("audio",),
        outputs=("text",),
    ),
)
DEFAULT_TEXT_MODEL = "openai"
DEFAULT_IMAGE_MODEL = "flux"
DEFAULT_TRANSCRIPTION_MODEL = "whisper-large-v3"


def _index(models: tuple[Model, ...]) -> dict[str, Model]:
    """Map each name and alias to its model."""
    return {name: m for m in models for name in (m.name, *m.aliases)}


TEXT_BY_NAME = _index(TEXT_MODELS)
IMAGE_BY_NAME = _index(IMAGE_MODELS)
AUDIO_BY_NAME = _index(AUDIO_MODELS)
SPEECH_MODELS = frozenset(name for name, m in AUDIO_BY_NAME.items() if "audio" in m.outputs)
TRANSCRIPTION_MODELS = frozenset(n for n, m in AUDIO_BY_NAME.items() if "audio" in m.inputs)


def model_info(model: Model) -> dict[str, Any]:
    """The gen model-info object (current shape, section 1c)."""
    info: dict[str, Any] = {
        "name": model.name,
        "aliases": list(model.aliases),
        "category": model.kind,
        "publisher": "simulator",
        "title": model.description,
        "community": model.community,
        "description": model.description,
        "pricing": {"currency": "pollen", "completion_tokens": "0.0000001"},
        "capabilities": [c for c, on in (("tools", model.tools), ("reasoning", model.reasoning)) if on],
        "input_modalities": list(model.inputs),
        "output_modalities": list(model.outputs),
        "tools": model.tools,
        "reasoning": model.reasoning,
        "paid_only": model.paid_only,
    }
    if model.voices:
        info["voices"] = list(model.voices)
    return info


def legacy_text_info(model: Model) -> dict[str, Any]:
    """The legacy text ``/models`` entry (section 2e)."""
    info: dict[str, Any] = {
        "name": model.name,
        "description": model.description,
        "tier": model.tier,
        "community": model.community,
        "input_modalities": list(model.inputs),
        "output_modalities": list(model.outputs),
        "tools": model.tools,
        "vision": "image" in model.inputs,
        "audio": "audio" in model.inputs or "audio" in model.outputs,
        "aliases": list(model.aliases),
        "reasoning": model.reasoning,
        **model.extra,
    }
    if model.voices:
        info["voices"] = list(model.voices)
    return info


def openai_entry(model: Model) -> dict[str, Any]:
    """An OpenAI ``/v1/models`` list entry."""
    return {
        "id": model.name,
        "object": "model",
        "created": CREATED,
        "owned_by": "pollinations",
        "input_modalities": list(model.inputs),
        "output_modalities": list(model.outputs),
        "tools": model.tools,
        "reasoning": model.reasoning,
    }


def openai_list(models: tuple[Model, ...]) -> bytes:
    """Serialise an OpenAI list object."""
    return dumps({"object": "list", "data": [openai_entry(m) for m in models]})


def gen_list(models: tuple[Model, ...]) -> bytes:
    """Serialise a gen model-info array."""
    return dumps([model_info(m) for m in models])


ALL_MODELS = (*TEXT_MODELS, *IMAGE_MODELS, *AUDIO_MODELS)
_LEGACY_TEXT_ORDER = sorted(TEXT_MODELS, key=lambda m: (m.community, m.name))
LEGACY_IMAGE_LIST = dumps([m.name for m in IMAGE_MODELS if m.tier != "nectar"])
LEGACY_TEXT_LIST = dumps([legacy_text_info(m) for m in _LEGACY_TEXT_ORDER])
LEGACY_OPENAI_LIST = openai_list(TEXT_MODELS)
LEGACY_IMAGE_ABOUT = dumps(
    [{"name": m.name, "tier": m.tier, "enhance": True, "maxSideLength": 2048} for m in IMAGE_MODELS]
)
GEN_LISTS = {
    "/image/models": IMAGE_MODELS,
    "/text/models": TEXT_MODELS,
    "/audio/models": AUDIO_MODELS,
    "/models": ALL_MODELS,
    "/v1/models": ALL_MODELS,
}
GEN_LIST_BODIES = {
    path: openai_list(models) if path == "/v1/models" else gen_list(models) for path, models in GEN_LISTS.items()
}
