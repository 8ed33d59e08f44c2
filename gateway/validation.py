"""Edge validation of request bodies and queries: every refusal is a 400 naming the field at fault.

The body is decoded once by msgspec (valid UTF-8, no lone surrogates, no NaN, bounded nesting),
then converted to the endpoint's struct (:mod:`gateway.schemas`), which checks each known field's
type and range. The decoded dict, unknown fields included, is what goes upstream.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
from django.http import HttpRequest, QueryDict
from django.utils.datastructures import MultiValueDict

from core.errors import invalid
from gateway import schemas

T = TypeVar("T", bound=msgspec.Struct)

_decoder = msgspec.json.Decoder()
_PATH_RE = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_MISSING_RE = re.compile(r"^Object missing required field `(?P<field>[^`]+)`")


def json_object(request: HttpRequest) -> dict[str, Any]:
    """The body as a JSON object, or 400."""
    content_type = request.content_type or ""
    if content_type not in ("application/json", ""):
        raise invalid("Send the body as JSON with Content-Type: application/json.", code="invalid_content_type")
    payload = decode_json(request.body or b"null")
    if not isinstance(payload, dict):
        raise invalid("The request body must be a JSON object.", code="invalid_json")
    return payload


def decode_json(body: bytes) -> Any:
    """Decode JSON strictly; 400 for bad JSON, bad UTF-8, lone surrogates or nesting too deep."""
    try:
        return _decoder.decode(body)
    except RecursionError:
        raise invalid("The JSON body is nested too deeply.", code="invalid_json") from None
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        field = _surrogate_field(body)
        if field is not None:
            raise invalid(
                f"'{field or 'body'}' is not valid Unicode: it holds a lone surrogate (\\ud800-\\udfff).",
                param=field or None,
                code="invalid_unicode",
            ) from None
        if isinstance(exc, UnicodeDecodeError):
            raise invalid("The request body is not valid UTF-8.", code="invalid_json") from None
        raise invalid(f"The request body is not valid JSON: {_detail(exc)}", code="invalid_json") from None


def convert(payload: Any, schema: type[T], *, prefix: str = "", strict: bool = True) -> T:
    """``payload`` checked against ``schema``; a 400 naming the first field at fault."""
    try:
        return msgspec.convert(payload, schema, strict=strict)
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = _PATH_RE.search(message)
        path = match.group("path") if match else ""
        reason = message[: match.start()] if match else message
        if missing := _MISSING_RE.match(reason):
            path = f"{path}.{missing.group('field')}"
        # msgspec writes a mapping's key as [...]: the param is then the mapping itself.
        param = (prefix + path.partition("[...]")[0].lstrip(".")).rstrip(".")
        raise invalid(f"Invalid '{param or 'body'}': {reason[0].lower() + reason[1:]}.", param=param or None) from None


def chat_request(payload: dict[str, Any], *, prefix: str = "") -> schemas.ChatCompletion:
    return convert(payload, schemas.ChatCompletion, prefix=prefix)


def image_request(payload: dict[str, Any], *, prefix: str = "") -> schemas.ImageGeneration:
    image = convert(payload, schemas.ImageGeneration, prefix=prefix)
    if not all(16 <= int(side) <= schemas.MAX_IMAGE_SIDE for side in image.size.split("x")):
        raise invalid(f"'size' must look like 1024x1024, each side 16-{schemas.MAX_IMAGE_SIDE}.", param=f"{prefix}size")
    return image


def speech_request(payload: dict[str, Any], *, prefix: str = "") -> schemas.Speech:
    speech = convert(payload, schemas.Speech, prefix=prefix)
    if not speech.input.strip():
        raise invalid("'input' must be a non-empty string.", param=f"{prefix}input")
    return speech


def single_valued(form: QueryDict, files: MultiValueDict) -> dict[str, str]:
    """A multipart form's fields, each sent once; 400 naming a field (or file) sent more than once.

    An upload is forwarded (and a job's stored) as sent: a second ``model`` or file, which the
    upstream might read instead of the one checked, authorised and billed, must not get through.
    """
    for name in (*form, *files):
        count = len(form.getlist(name)) + len(files.getlist(name))
        if count > 1:
            raise invalid(f"'{name}' was sent {count} times: send each field once.", param=name)
    return {name: form.get(name, "") for name in form}


def transcription_form(form: dict[str, str]) -> schemas.Transcription:
    """The form fields of a transcription upload (text values, converted)."""
    return convert(form, schemas.Transcription, strict=False)


def native_query(query: dict[str, str]) -> schemas.NativeQuery:
    """The Pollinations query parameters the gateway knows, checked by type and range."""
    return convert(query, schemas.NativeQuery, strict=False)


def storable(payload: Any, *, prefix: str = "") -> None:
    """400 when a string (key or value) holds NUL, which PostgreSQL cannot store (job requests are stored)."""
    path = _find(payload, "", lambda text: "\x00" in text)
    if path is not None:
        raise invalid(
            f"'{prefix}{path}' holds a NUL character (\\u0000), which cannot be stored.",
            param=f"{prefix}{path}".rstrip(".") or None,
            code="invalid_unicode",
        )


def _detail(exc: Exception) -> str:
    """msgspec's reason, as the end of a sentence that already said the body is not valid JSON."""
    text = str(exc).removeprefix("JSON is malformed: ")
    if not text:
        return "malformed."
    # Lower-case the first word, unless it is an acronym ("JSON"), which keeps its capitals.
    return (text if text[:2].isupper() else text[0].lower() + text[1:]) + "."


def _surrogate_field(body: bytes) -> str | None:
    """Where a lone surrogate sits (``""`` for the top level), or ``None`` when there is none.

    Only run for a body msgspec refused: the standard library accepts lone surrogates, so it
    can find the one that made msgspec refuse.
    """
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return _find(payload, "", lambda text: not _is_valid_unicode(text))


def _find(value: Any, path: str, bad: Callable[[str], bool]) -> str | None:
    """The path of the first string (key or value) for which ``bad`` is true, or ``None``."""
    if isinstance(value, str):
        return path if bad(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if bad(str(key)):
                return path
            if (found := _find(item, f"{path}.{key}" if path else str(key), bad)) is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            if (found := _find(item, f"{path}[{index}]", bad)) is not None:
                return found
    return None


def _is_valid_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


__all__ = [
    "chat_request",
    "convert",
    "decode_json",
    "image_request",
    "json_object",
    "native_query",
    "speech_request",
    "storable",
    "transcription_form",
]
