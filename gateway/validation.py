"""Edge validation of request bodies: every refusal names the field at fault (400)."""

from __future__ import annotations

import json
import re
from typing import Any

from django.http import HttpRequest

from gateway.errors import invalid

MAX_PROMPT_CHARS = 32_000
MAX_SPEECH_CHARS = 10_000
_SIZE_RE = re.compile(r"^(\d{2,4})x(\d{2,4})$")
MAX_IMAGE_SIDE = 2048


def json_object(request: HttpRequest) -> dict[str, Any]:
    """The body as a JSON object, or 400."""
    content_type = request.content_type or ""
    if content_type not in ("application/json", ""):
        raise invalid("Send the body as JSON with Content-Type: application/json.", code="invalid_content_type")
    try:
        payload = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise invalid("The request body is not valid JSON.", code="invalid_json") from None
    if not isinstance(payload, dict):
        raise invalid("The request body must be a JSON object.", code="invalid_json")
    return payload


def string(payload: dict[str, Any], field: str, *, default: str | None = None, max_length: int = 256) -> str:
    value = payload.get(field, default)
    if value is None:
        raise invalid(f"'{field}' is required.", param=field, code="missing_field")
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"'{field}' must be a non-empty string.", param=field)
    if len(value) > max_length:
        raise invalid(f"'{field}' is longer than {max_length} characters.", param=field)
    return value


def boolean(payload: dict[str, Any], field: str, default: bool = False) -> bool:
    value = payload.get(field, default)
    if not isinstance(value, bool):
        raise invalid(f"'{field}' must be true or false.", param=field)
    return value


def messages(payload: dict[str, Any]) -> list[Any]:
    value = payload.get("messages")
    if not isinstance(value, list) or not value:
        raise invalid("'messages' must be a non-empty array of messages.", param="messages")
    for index, message in enumerate(value):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise invalid(f"messages[{index}] must be an object with a 'role'.", param=f"messages[{index}]")
    return value


def image_request(payload: dict[str, Any]) -> None:
    string(payload, "prompt", max_length=MAX_PROMPT_CHARS)
    n = payload.get("n", 1)
    if n != 1:
        raise invalid("'n' must be 1: one image per request.", param="n")
    size = payload.get("size", "1024x1024")
    match = _SIZE_RE.match(size) if isinstance(size, str) else None
    if not match or not all(16 <= int(side) <= MAX_IMAGE_SIDE for side in match.groups()):
        raise invalid(f"'size' must look like 1024x1024, each side 16–{MAX_IMAGE_SIDE}.", param="size")
    if payload.get("response_format", "b64_json") not in ("b64_json", "url"):
        raise invalid("'response_format' must be 'b64_json' or 'url'.", param="response_format")
    seed = payload.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or not -1 <= seed <= 2**31 - 1):
        raise invalid("'seed' must be an integer from -1 to 2147483647.", param="seed")


def speech_request(payload: dict[str, Any]) -> None:
    string(payload, "input", max_length=MAX_SPEECH_CHARS)
    if "voice" in payload:
        string(payload, "voice", max_length=64)
    if payload.get("response_format", "mp3") not in ("mp3", "opus", "aac", "flac", "wav", "pcm"):
        raise invalid("'response_format' must be one of mp3, opus, aac, flac, wav, pcm.", param="response_format")
