"""Sending a Response over ASGI with the body-shaping faults applied, watching for disconnects."""

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Awaitable, Iterable
from typing import TypeVar

from simulator.faults import MID_STREAM_EVENTS, Faults
from simulator.response import Response, dumps, json_response, sse_response
from simulator.types import CANCELLED, COMPLETED, DROPPED, Headers, Receive, Send

T = TypeVar("T")
PAD_CHUNK = 64 * 1024
_PADDING = b" " * PAD_CHUNK  # spaces keep padded JSON and text valid
MALFORMED_EVENT = b'data: {"id":"chatcmpl-malformed","choices":[{"delta":\n\n'
CORS_HEADERS: Headers = [
    (b"access-control-allow-origin", b"*"),
    (
        b"access-control-expose-headers",
        (
            b"x-model-used, x-usage-prompt-text-tokens, x-usage-completion-text-tokens, "
            b"x-usage-total-tokens, x-auth-status, x-auth-reason, x-error-type, retry-after, "
            b"content-disposition"
        ),
    ),
]


class Disconnect:
    """Watches ``receive`` for ``http.disconnect`` once the request body has been read."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._task: asyncio.Task[None] | None = None

    def start(self) -> asyncio.Task[None]:
        """Begin watching (idempotent)."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._watch())
        return self._task

    async def _watch(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass

    @property
    def disconnected(self) -> bool:
        """Whether the client has gone away."""
        return self._task is not None and self._task.done()

    async def race(self, work: Awaitable[T], *, cancel: bool = True) -> T | None:
        """Await ``work`` unless the client leaves first (then ``None``; ``work`` is cancelled
        when ``cancel``, else left running for other waiters).
        """
        future = asyncio.ensure_future(work)
        watcher = self.start()
        await asyncio.wait((future, watcher), return_when=asyncio.FIRST_COMPLETED)
        if future.done():
            return future.result()
        if cancel:
            future.cancel()
        return None

    async def sleep(self, seconds: float) -> bool:
        """Sleep unless the client leaves; ``True`` when still connected."""
        watcher = self.start()
        done, _ = await asyncio.wait((watcher,), timeout=seconds)
        return not done

    def close(self) -> None:
        """Stop watching."""
        if self._task is not None:
            self._task.cancel()


async def send_response(send: Send, response: Response, faults: Faults, watcher: Disconnect) -> str:
    """Send ``response``; returns COMPLETED, CANCELLED or DROPPED.

    A drop returns without the final body message, so the server closes the connection with
    the body incomplete (raising instead would make the server log a traceback).
    """
    if response.status == 200 and (faults.error_object or faults.corrupt_media):
        response = error_object_response(response) if faults.error_object else corrupted(response)
    headers = [*response.headers, *CORS_HEADERS]
    if response.stream is not None:
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        events = _malformed_events(response.stream) if faults.malformed else response.stream
        if faults.chunk_bytes or faults.trickle:
            events = _rechunked(events, 1 if faults.trickle else faults.chunk_bytes)
        drop_at = faults.drop_after or (MID_STREAM_EVENTS if faults.drop_mid_stream else 0)
        watcher.start()
        return await _send_chunks(send, events, faults, watcher, drop_at)
    body = response.body
    if faults.malformed:
        body = body[: len(body) // 2] + b"\x00<<malformed>>"
    total = max(len(body), faults.size)
    headers.append((b"content-length", str(total).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    if not faults.size and not faults.drops and not faults.trickle:
        await send({"type": "http.response.body", "body": body})
        return COMPLETED
    pieces: Iterable[bytes]
    if faults.trickle:
        pieces, drop_at = (body[i : i + 1] for i in range(len(body))), 0
    elif faults.size:
        pieces = _padded(body, total)
        half = -(-total // PAD_CHUNK) // 2
        drop_at = faults.drop_after or (max(1, half) if faults.drop_mid_stream else 0)
    else:  # either drop knob on an ordinary body: send the first half, then cut
        pieces, drop_at = (body[: len(body) // 2], body[len(body) // 2 :]), 1
    return await _send_chunks(send, _iterate(pieces), faults, watcher, drop_at)


async def _send_chunks(
    send: Send, chunks: AsyncIterator[bytes], faults: Faults, watcher: Disconnect, drop_at: int
) -> str:
    """One ``http.response.body`` message per chunk, so each is flushed as it is produced."""
    sent = 0
    async for chunk in chunks:
        if watcher.disconnected:
            return CANCELLED
        pause = faults.trickle or faults.stream_interval
        if pause and not await watcher.sleep(pause):
            return CANCELLED
        if not chunk:  # an idle tick from an open-ended stream: just re-check the client
            continue
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
        sent += 1
        if drop_at and sent >= drop_at:
            return DROPPED
    if watcher.disconnected:
        return CANCELLED
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    return COMPLETED


ERROR_OBJECT = {"error": {"message": "Simulated failure reported inside a 200", "code": "SIMULATED_ERROR"}}


def error_object_response(response: Response) -> Response:
    """The ``error-object`` fault: a 200 whose body is an error object instead of the result."""
    if response.stream is not None:
        return sse_response(_events([b"data: " + dumps(ERROR_OBJECT) + b"\n\n"]))
    return json_response(ERROR_OBJECT)


def corrupted(response: Response) -> Response:
    """The ``corrupt-media`` fault: media bytes of the declared type and length that are not of that type."""
    content_type = dict(response.headers).get(b"content-type", b"")
    if response.stream is not None:
        return response
    if content_type.startswith((b"image/", b"audio/")):
        return Response(response.status, response.headers, _garbage(len(response.body)))
    if content_type.startswith(b"application/json") and b'"b64_json"' in response.body:
        data = json.loads(response.body)
        for item in data.get("data") or ():
            if isinstance(item, dict) and isinstance(item.get("b64_json"), str):
                size = len(base64.b64decode(item["b64_json"]))
                item["b64_json"] = base64.b64encode(_garbage(size)).decode()
        return Response(response.status, response.headers, dumps(data))
    return response


def _garbage(size: int) -> bytes:
    """``size`` bytes no media sniffer recognises (an HTML error page, repeated)."""
    page = b"<html><body>upstream error</body></html>\n"
    return (page * (size // len(page) + 1))[:size]


async def _events(events: list[bytes]) -> AsyncIterator[bytes]:
    for event in events:
        yield event


def _padded(body: bytes, total: int) -> Iterable[bytes]:
    """``body`` then spaces up to ``total`` bytes, in PAD_CHUNK pieces (never one big buffer)."""
    for start in range(0, len(body), PAD_CHUNK):
        yield body[start : start + PAD_CHUNK]
    remaining = total - len(body)
    while remaining > 0:
        yield _PADDING[: min(PAD_CHUNK, remaining)]
        remaining -= PAD_CHUNK


async def _iterate(pieces: Iterable[bytes]) -> AsyncIterator[bytes]:
    """Adapt a plain iterable to the async chunk loop."""
    for piece in pieces:
        yield piece


async def _rechunked(chunks: AsyncIterator[bytes], size: int) -> AsyncIterator[bytes]:
    """The same bytes in ``size``-byte pieces, so events straddle the reader's reads."""
    async for chunk in chunks:
        for start in range(0, len(chunk), size):
            yield chunk[start : start + size]


async def _malformed_events(events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The stream with a broken JSON event after the first one."""
    first = True
    async for event in events:
        yield event
        if first:
            first = False
            yield MALFORMED_EVENT
