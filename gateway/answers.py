"""Check an upstream answer before it is committed to the client, so a bad one can still fall back.

A ``200`` is not success by itself. Before the first byte goes out, the gateway looks at what it
can afford to look at:

* a JSON answer is read whole (it is buffered anyway) and must parse, must not be an error object
  in place of a result, and must have the operation's shape (``choices``, ``data``…);
* an SSE answer's first event must be JSON and not an error object;
* an image or audio answer must start with the magic bytes of its declared ``Content-Type``.

A failed check raises a retryable :class:`UpstreamError`: the breaker counts it, the dispatcher
retries or falls back, and nothing is charged. Later faults (a broken event mid-stream, a body
shorter than declared) are the relay's: it ends the answer with an in-band error or cuts it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator

from core import json_codec
from gateway.magic_bytes import MAGIC_BYTES, matches_magic, sniffed_image
from plugins.errors import UpstreamError
from plugins.types import ProviderCall, UpstreamResponse

#: Non-streaming JSON answers are read whole (bounded) so checks, usage and caching need no second pass.
MAX_BUFFERED_JSON = 16 * 1024 * 1024
#: How far into an SSE answer the first event is looked for.
MAX_FIRST_EVENT = 64 * 1024
_RESULT_KEYS = {"chat": "choices", "image": "data", "transcription": "text"}
_MEDIA_OPERATIONS = frozenset({"image", "speech"})


def malformed(message: str = "The upstream provider sent a malformed answer.") -> UpstreamError:
    return UpstreamError(message, retryable=True)


def media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


def error_object(parsed: object) -> bool:
    """An ``{"error": …}`` answer standing where a result should be."""
    return isinstance(parsed, dict) and "error" in parsed and not ({"choices", "data", "text"} & parsed.keys())


def check_json(call: ProviderCall, body: bytes) -> None:
    """Raise when a 200 JSON answer is unparseable, an error object or lacks the operation's result."""
    try:
        parsed = json_codec.loads(body)
    except ValueError:
        raise malformed() from None
    if error_object(parsed):
        raise malformed("The upstream provider answered with an error.")
    if call.operation == "speech":
        raise malformed("The upstream provider answered with JSON instead of audio.")
    key = _RESULT_KEYS.get(call.operation)
    if key is None:
        return
    result = parsed.get(key) if isinstance(parsed, dict) else None
    if key == "text":
        if not isinstance(result, str):
            raise malformed()
        return
    if not isinstance(result, list) or not result or not all(isinstance(item, dict) for item in result):
        raise malformed()
    if call.operation == "image":
        for item in result:
            encoded = item.get("b64_json")
            if encoded is None and isinstance(item.get("url"), str):
                continue
            if not isinstance(encoded, str) or not _b64_image(encoded):
                raise malformed("The upstream provider sent an image that is not one.")


def _b64_image(encoded: str) -> bool:
    try:
        head = base64.b64decode(encoded[:24], validate=True)
    except (binascii.Error, ValueError):
        return False
    return sniffed_image(head) is not None


async def _read_all(upstream: UpstreamResponse) -> bytes:
    parts, size = [], 0
    async for chunk in upstream.body:
        size += len(chunk)
        if size > MAX_BUFFERED_JSON:
            raise UpstreamError("The upstream answer is too large.", retryable=True)
        parts.append(chunk)
    return b"".join(parts)


async def _chain(head: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if head:
        yield head
    async for chunk in rest:
        yield chunk


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body


def check_event(event: bytes) -> bool | None:
    """One SSE event: ``True`` for data that is JSON (or ``[DONE]``), ``False`` for a broken or error event,
    ``None`` when it carries no data (a comment, a keep-alive)."""
    data = [line[5:].lstrip() for line in event.split(b"\n") if line.startswith(b"data:")]
    if not data:
        return None
    payload = b"\n".join(data).strip()
    if payload == b"[DONE]":
        return True
    try:
        parsed = json_codec.loads(payload)
    except ValueError:
        return False
    return not (isinstance(parsed, dict) and "error" in parsed and "choices" not in parsed)


async def check(call: ProviderCall, upstream: UpstreamResponse) -> None:
    """Check (and, where it had to read ahead, re-assemble) an opened answer; raise ``UpstreamError``.

    Nothing has reached the client yet, so an answer that breaks off while being checked is as
    retryable as one that never started.
    """
    if upstream.status >= 300:
        return
    try:
        await _check(call, upstream)
    except UpstreamError as exc:
        if exc.retryable:
            raise
        raise UpstreamError(exc.client_message, retryable=True, timeout=exc.timeout) from exc


async def _check(call: ProviderCall, upstream: UpstreamResponse) -> None:
    kind = media_type(upstream.content_type)
    if kind == "application/json" or kind.endswith("+json"):
        body = await _read_all(upstream)
        check_json(call, body)
        upstream.buffered, upstream.body = body, _once(body)
        return
    if kind == "text/event-stream":
        head = b""
        async for chunk in upstream.body:
            head += chunk
            verdict = None
            for event in head.replace(b"\r\n", b"\n").split(b"\n\n")[:-1]:
                verdict = check_event(event)
                if verdict is not None:
                    break
            if verdict is False:
                raise malformed()
            if verdict or len(head) > MAX_FIRST_EVENT:
                break
        else:
            if not head.strip():
                raise malformed("The upstream provider sent an empty stream.")
        upstream.body = _chain(head, upstream.body)
        return
    if call.operation in _MEDIA_OPERATIONS or kind.startswith(("image/", "audio/")):
        head = b""
        async for chunk in upstream.body:
            head += chunk
            if len(head) >= MAGIC_BYTES:
                break
        expected = "image/" if call.operation == "image" else "audio/" if call.operation == "speech" else ""
        known = matches_magic(kind, head)
        if known is False and kind.startswith("image/") and (actual := sniffed_image(head)) is not None:
            # The legacy image host labels its PNG output (transparent=true) image/jpeg: bytes that are
            # plainly another image type are relayed under that type rather than refused.
            upstream.content_type = kind = actual
            known = True
        if (
            not head
            or known is False
            or (expected and not kind.startswith(expected) and kind != "application/octet-stream")
        ):
            raise malformed("The upstream provider sent a body that does not match its declared type.")
        upstream.body = _chain(head, upstream.body)
