"""gen audio: ``GET /audio/{text}``, ``/v1/audio/speech`` and ``/v1/audio/transcriptions``."""

import hashlib
from collections.abc import Mapping
from typing import Any

from simulator import auth
from simulator.audio import CONTENT_TYPES, audio_seconds, speech_seconds, synthesize, transcribe
from simulator.models import (
    AUDIO_BY_NAME,
    DEFAULT_TRANSCRIPTION_MODEL,
    GEN_VOICES,
    SPEECH_MODELS,
    TRANSCRIPTION_MODELS,
)
from simulator.multipart import parse_multipart
from simulator.params import FieldErrors, strict_enum, strict_int
from simulator.request import Request
from simulator.response import (
    IMMUTABLE,
    Response,
    binary_response,
    header,
    json_response,
    text_response,
)
from simulator.state import State

SPEECH_FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
TRANSCRIPT_FORMATS = ("json", "text", "srt", "vtt", "verbose_json", "diarized_json")
UPLOAD_EXTENSIONS = ("mp3", "mp4", "mpeg", "mpga", "m4a", "wav", "webm")
MAX_INPUT = 10_000
MAX_UPLOAD = 25 * 1024 * 1024
DEFAULT_SPEECH_MODEL = "openai-audio"


def _speech(request: Request, text: object, values: Mapping[str, Any]) -> Response:
    """Validate the shared speech fields and return the audio bytes."""
    errors = FieldErrors()
    if not isinstance(text, str) or not 1 <= len(text) <= MAX_INPUT:
        errors.add("input", f"String must contain between 1 and {MAX_INPUT} character(s)")
        text = ""
    model = strict_enum(values, "model", SPEECH_MODELS, DEFAULT_SPEECH_MODEL, errors)
    voice = strict_enum(values, "voice", GEN_VOICES, "alloy", errors)
    audio_format = strict_enum(values, "response_format", SPEECH_FORMATS, "mp3", errors)
    strict_int(values, "seed", 0, -1, 2**32 - 1, errors)
    errors.raise_if_any()
    model = AUDIO_BY_NAME[model].name
    auth.check_model(request, model)
    return binary_response(
        synthesize(text, audio_format),
        CONTENT_TYPES[audio_format],
        [
            (b"cache-control", IMMUTABLE),
            header("x-model-used", model),
            header("x-voice-used", voice),
            header("x-usage-completion-audio-seconds", round(speech_seconds(text), 3)),
        ],
    )


async def audio_get(request: Request, state: State) -> Response:
    """``GET /audio/{text}``."""
    return _speech(request, request.tail("/audio/"), request.query)


async def speech_post(request: Request, state: State) -> Response:
    """``POST /v1/audio/speech``."""
    body = request.json_object()
    return _speech(request, body.get("input"), body)


async def transcriptions_post(request: Request, state: State) -> Response:
    """``POST /v1/audio/transcriptions``: multipart ``file`` in, transcript out."""
    parts = parse_multipart(request.headers.get("content-type", ""), request.body)
    errors = FieldErrors()
    upload = parts.get("file", [None])[0]
    if upload is None or not upload.filename:
        errors.add("file", "Required: an audio file upload")
    elif len(upload.data) > MAX_UPLOAD:
        errors.add("file", "File exceeds the 25 MB limit")
    elif upload.filename.rsplit(".", 1)[-1].lower() not in UPLOAD_EXTENSIONS:
        errors.add("file", f"Unsupported file type. Use one of {', '.join(UPLOAD_EXTENSIONS)}")
    values = {name: p[0].text() for name, p in parts.items() if not p[0].filename}
    model = strict_enum(values, "model", TRANSCRIPTION_MODELS, DEFAULT_TRANSCRIPTION_MODEL, errors)
    response_format = strict_enum(values, "response_format", TRANSCRIPT_FORMATS, "json", errors)
    errors.raise_if_any()
    assert upload is not None  # guaranteed by the validation above
    model = AUDIO_BY_NAME[model].name
    auth.check_model(request, model)
    text = transcribe(upload.data)
    seconds = audio_seconds(upload.data)
    headers = [header("x-model-used", model), header("x-usage-prompt-audio-seconds", seconds)]
    if response_format == "text":
        return text_response(text, headers=headers)
    if response_format in ("srt", "vtt"):
        return text_response(_subtitles(text, seconds, response_format), headers=headers)
    if response_format == "json":
        return json_response({"text": text}, headers=headers)
    segment: dict[str, Any] = {"id": 0, "start": 0.0, "end": seconds, "text": text}
    if response_format == "diarized_json":
        segment["speaker"] = "A"
    language = values.get("language") or "en"
    data = {
        "task": "transcribe",
        "language": language,
        "duration": seconds,
        "text": text,
        "segments": [segment],
        "id": hashlib.sha256(upload.data).hexdigest()[:16],
    }
    return json_response(data, headers=headers)


def _timestamp(seconds: float, separator: str) -> str:
    """``HH:MM:SS,mmm`` (SRT) or ``HH:MM:SS.mmm`` (VTT)."""
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02}:{minutes:02}:{rest // 1000:02}{separator}{rest % 1000:03}"


def _subtitles(text: str, seconds: float, kind: str) -> str:
    """One cue spanning the whole clip, as SRT or WebVTT."""
    if kind == "srt":
        return f"1\n{_timestamp(0, ',')} --> {_timestamp(seconds, ',')}\n{text}\n"
    return f"WEBVTT\n\n{_timestamp(0, '.')} --> {_timestamp(seconds, '.')}\n{text}\n"
