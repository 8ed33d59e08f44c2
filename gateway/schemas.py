"""The typed shape of every request body and query the gateway accepts, checked at the edge.

msgspec structs, converted from the decoded JSON in one C pass (a few microseconds per request,
``bench/validation.py``). Fields the gateway knows are checked by type and documented range;
fields it does not know pass through to the provider untouched (structs ignore them). Bounds
are OpenAI's (and Pollinations' where it documents its own).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

__all__ = [
    "ChatCompletion",
    "ImageGeneration",
    "NativeQuery",
    "Speech",
    "Transcription",
]

MAX_PROMPT_CHARS = 32_000
MAX_SPEECH_CHARS = 10_000
MAX_IMAGE_SIDE = 2048
MAX_TOKENS = 1_048_576
INT32_MAX = 2**31 - 1
INT64 = Meta(ge=-(2**63), le=2**63 - 1)

Name = Annotated[str, Meta(min_length=1, max_length=256)]
ShortText = Annotated[str, Meta(max_length=256)]
Temperature = Annotated[float, Meta(ge=0, le=2)]
Probability = Annotated[float, Meta(ge=0, le=1)]
Penalty = Annotated[float, Meta(ge=-2, le=2)]
TokenCount = Annotated[int, Meta(ge=1, le=MAX_TOKENS)]
Seed = Annotated[int, INT64]


class _Body(Struct, forbid_unknown_fields=False, omit_defaults=True):
    """Unknown fields are ignored here and forwarded as sent."""


# --- /v1/chat/completions -------------------------------------------------------------------


class Message(_Body):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None
    name: Annotated[str, Meta(max_length=256)] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: ShortText | None = None


class StreamOptions(_Body):
    include_usage: bool = False


class FunctionDefinition(_Body):
    name: Annotated[str, Meta(min_length=1, max_length=64)]
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_Body):
    type: Name
    function: FunctionDefinition | None = None


class ResponseFormat(_Body):
    type: Name
    json_schema: dict[str, Any] | None = None


class Audio(_Body):
    voice: Name
    format: Name


class ChatCompletion(_Body):
    messages: Annotated[list[Message], Meta(min_length=1)]
    model: Name = "openai"
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: Temperature | None = None
    top_p: Probability | None = None
    n: Annotated[int, Meta(ge=1, le=128)] | None = None
    max_tokens: TokenCount | None = None
    max_completion_tokens: TokenCount | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    repetition_penalty: Annotated[float, Meta(gt=0, le=2)] | None = None
    seed: Seed | None = None
    stop: str | Annotated[list[str], Meta(max_length=4)] | None = None
    logit_bias: dict[str, Annotated[int, Meta(ge=-100, le=100)]] | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, Meta(ge=0, le=20)] | None = None
    user: ShortText | None = None
    tools: list[Tool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    functions: list[FunctionDefinition] | None = None
    function_call: str | dict[str, Any] | None = None
    response_format: ResponseFormat | None = None
    modalities: list[Literal["text", "audio"]] | None = None
    audio: Audio | None = None
    reasoning_effort: ShortText | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    service_tier: ShortText | None = None
    private: bool = False


# --- /v1/images/generations -----------------------------------------------------------------


class ImageGeneration(_Body):
    prompt: Annotated[str, Meta(min_length=1, max_length=MAX_PROMPT_CHARS)]
    model: Name = "flux"
    n: Annotated[int, Meta(ge=1, le=1)] = 1
    size: Annotated[str, Meta(pattern=r"^\d{2,4}x\d{2,4}$")] = "1024x1024"
    response_format: Literal["b64_json", "url"] = "b64_json"
    seed: Annotated[int, Meta(ge=-1, le=INT32_MAX)] | None = None
    quality: ShortText | None = None
    style: ShortText | None = None
    user: ShortText | None = None
    private: bool = False


# --- /v1/audio/speech and /v1/audio/transcriptions -------------------------------------------


class Speech(_Body):
    input: Annotated[str, Meta(min_length=1, max_length=MAX_SPEECH_CHARS)]
    model: Name = "openai-audio"
    voice: Annotated[str, Meta(min_length=1, max_length=64)] = "alloy"
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "mp3"
    speed: Annotated[float, Meta(ge=0.25, le=4)] | None = None
    instructions: Annotated[str, Meta(max_length=4096)] | None = None
    seed: Annotated[int, Meta(ge=-1, le=2**32 - 1)] | None = None


class Transcription(_Body):
    """The form fields of a transcription upload (strings converted: ``temperature=0.2``)."""

    model: Name = "whisper-large-v3"
    language: Annotated[str, Meta(min_length=2, max_length=16)] | None = None
    prompt: Annotated[str, Meta(max_length=MAX_PROMPT_CHARS)] | None = None
    response_format: Literal["json", "text", "srt", "vtt", "verbose_json", "diarized_json"] = "json"
    temperature: Probability | None = None


# --- Pollinations-native query parameters ----------------------------------------------------


class NativeQuery(_Body):
    """The typed Pollinations query parameters (the rest pass through); strings converted from the URL."""

    model: Name | None = None
    seed: Annotated[int, Meta(ge=-1, le=2**32 - 1)] | None = None
    width: Annotated[int, Meta(ge=0, le=MAX_IMAGE_SIDE * 2)] | None = None
    height: Annotated[int, Meta(ge=0, le=MAX_IMAGE_SIDE * 2)] | None = None
    temperature: Annotated[float, Meta(ge=0, le=3)] | None = None
    top_p: Probability | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    repetition_penalty: Annotated[float, Meta(gt=0, le=2)] | None = None
    max_tokens: TokenCount | None = None
    max_completion_tokens: TokenCount | None = None
    nologo: bool | None = None
    enhance: bool | None = None
    private: bool | None = None
    safe: bool | None = None
    stream: bool | None = None
    json: bool | None = None
    transparent: bool | None = None
    nofeed: bool | None = None
    voice: Annotated[str, Meta(min_length=1, max_length=64)] | None = None
