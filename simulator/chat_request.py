"""Chat request bodies: validation (strict for gen, lenient for legacy) into a ChatRequest."""

import secrets
from dataclasses import dataclass, field
from typing import Any

from simulator.errors import SimError
from simulator.models import DEFAULT_TEXT_MODEL, GEN_VOICES, LEGACY_AUDIO_VOICES, TEXT_BY_NAME
from simulator.params import FieldErrors, lenient_int, strict_enum, strict_int

MAX_SEED = 2**32 - 1
CHAT_AUDIO_FORMATS = ("wav", "mp3", "flac", "opus", "pcm16")
VOICES = frozenset((*GEN_VOICES, *LEGACY_AUDIO_VOICES))


@dataclass(slots=True)
class ChatRequest:
    """A validated chat request."""

    model: str
    messages: list[dict[str, Any]]
    seed: int = 0
    stream: bool = False
    include_usage: bool = False
    json_mode: bool = False
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: Any = "auto"
    audio_format: str | None = None  # set when the client asked for spoken output
    voice: str = "alloy"


def parse_chat(body: dict[str, Any], *, strict: bool) -> ChatRequest:
    """Validate a chat body; gen (``strict``) reports bad fields, legacy only needs messages."""
    errors = FieldErrors()
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        if not strict:
            raise SimError(400, "Invalid messages array", body={"error": "Invalid messages array"})
        errors.add("messages", "Expected a non-empty array of message objects")
        messages = []
    model = str(body.get("model") or DEFAULT_TEXT_MODEL)
    if strict:
        model = strict_enum(body, "model", TEXT_BY_NAME, DEFAULT_TEXT_MODEL, errors)
        seed = strict_int(body, "seed", 0, -1, MAX_SEED, errors)
    else:
        seed = lenient_int(body.get("seed"), 0, -1, MAX_SEED)
    model = TEXT_BY_NAME[model].name if model in TEXT_BY_NAME else model  # legacy checks later
    response_format = body.get("response_format") or {}
    json_mode = body.get("jsonMode") is True or body.get("json") in (True, "true")
    json_mode = json_mode or (
        isinstance(response_format, dict) and response_format.get("type") in ("json_object", "json_schema")
    )
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        errors.add("tools", "Expected array")
        tools = []
    chat = ChatRequest(
        model=model,
        messages=messages,
        seed=resolve_seed(seed),
        stream=body.get("stream") is True,
        json_mode=json_mode,
        tools=tools,
        tool_choice=body.get("tool_choice", "auto"),
        include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
    )
    _parse_audio_output(body, chat, errors)
    errors.raise_if_any()
    return chat


def resolve_seed(seed: int) -> int:
    """Seed -1 asks for a random seed."""
    return secrets.randbelow(MAX_SEED) if seed == -1 else seed


def _parse_audio_output(body: dict[str, Any], chat: ChatRequest, errors: FieldErrors) -> None:
    """Read ``modalities``/``audio`` (legacy also takes a top-level ``voice`` for openai-audio)."""
    audio = body.get("audio")
    spec: dict[str, Any] = audio if isinstance(audio, dict) else {}
    modalities = body.get("modalities") or []
    if chat.model == "openai-audio" and (body.get("voice") or spec) and not modalities:
        modalities = ["text", "audio"]  # the legacy server fills these in
    if "audio" not in modalities:
        return
    default_format = "pcm16" if chat.stream else "mp3"
    chat.audio_format = strict_enum(spec, "format", CHAT_AUDIO_FORMATS, default_format, errors)
    chat.voice = strict_enum({"voice": spec.get("voice") or body.get("voice")}, "voice", VOICES, "alloy", errors)
