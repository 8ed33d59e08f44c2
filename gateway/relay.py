"""Relay an upstream answer to the client as it arrives, and account for it when it ends.

Each upstream chunk is handed on as soon as it is read: no coalescing, no whole-body buffer. SSE
answers are relayed event by event (a partial event waits for its end, so a broken one is never
passed on); every event is checked, and a broken or error event ends the stream with a final
error event instead — no ``[DONE]``. A byte stream (image, audio) that breaks off is cut, so the
client sees an incomplete body rather than a truncated file presented as whole. The call's
deadline closes the upstream answer when it passes (504 / in-band ``upstream_timeout``).

What is charged (docs/billing.md): a byte stream only when it arrived whole; text by what was
relayed (the upstream's reported usage for a completed answer, the gateway's count otherwise);
nothing when nothing was delivered. Whatever happens — completion, upstream failure, client
disconnect — ``delivered`` is told once what was delivered (the meter, which bills it when the call ends).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING

import structlog

from core import background, tracing
from core.diagnostics import milliseconds_since, observe_phase
from core.errors import STATUS_CLIENT_CLOSED, HttpError, sse_error_event
from gateway import dispatch
from gateway.errors import upstream_timeout
from gateway.metrics import observe_first_byte
from gateway.sse import EventStream
from plugins.errors import UpstreamError
from plugins.types import Outcome, Provider, ProviderCall, UpstreamResponse, Usage

if TYPE_CHECKING:
    from opentelemetry.trace import Span

log = structlog.get_logger("mcp.gateway")

#: Bytes of the answer's end kept for usage extraction (the usage chunk is always near the end).
TAIL_BYTES = 8 * 1024
#: Rough characters per token, for answers whose upstream reports no usage (docs/billing.md, "Prices").
CHARS_PER_TOKEN = 4


async def relay(
    upstream: UpstreamResponse,
    *,
    provider: Provider,
    call: ProviderCall,
    delivered: Callable[[Outcome], None],
    started: float,
    sse: bool,
    strip_usage_event: bool = False,
    on_complete: Callable[[bytes | None], None] | None = None,
    keep_body_up_to: int = 0,
) -> AsyncGenerator[bytes, None]:
    """Yield the upstream body as it arrives; tell ``delivered`` what was delivered when it ends, however it ends.

    :param delivered: called once with the outcome (the call's meter bills it).
    :param sse: the body is ``text/event-stream`` (relayed event by event; errors become a final SSE event).
    :param strip_usage_event: remove the usage-only event the gateway requested on the client's behalf.
    :param on_complete: called with the whole body (if it fit in ``keep_body_up_to``) after a clean end.
    """
    tail = b""
    relayed = 0
    kept: list[bytes] | None = [] if keep_body_up_to else None
    kept_size = 0
    status = upstream.status
    complete = False
    events = EventStream(strip_usage=strip_usage_event) if sse else None
    expired = False
    timer = None

    def expire() -> None:
        nonlocal expired
        expired = True
        # Closing the answer wakes the read below with an error, wherever it is waiting.
        background.spawn(upstream.close())

    if call.deadline:
        timer = asyncio.get_running_loop().call_at(call.deadline, expire)
    span = start_relay_span(provider, call)
    first_byte, size = 0.0, 0
    try:
        try:
            async for chunk in upstream.body:
                size += len(chunk)
                if not first_byte:
                    first_byte = time.perf_counter()
                    observe_first_byte(provider=provider.name, model=call.model, seconds=first_byte - started)
                tail = (tail + chunk)[-TAIL_BYTES:]
                if kept is not None:
                    kept_size += len(chunk)
                    if kept_size <= keep_body_up_to:
                        kept.append(chunk)
                    else:
                        kept = None
                if events is not None:
                    chunk = events.feed(chunk)
                    if events.failed is not None:
                        if chunk:
                            yield chunk
                        raise UpstreamError(events.failed.message)
                    if not chunk:
                        continue
                relayed += len(chunk)
                yield chunk
            if events is not None:
                rest = events.end()
                if events.failed is not None:
                    raise UpstreamError(events.failed.message)
                if rest:
                    relayed += len(rest)
                    yield rest
        except UpstreamError as exc:
            error = upstream_timeout() if expired or exc.timeout else (events and events.failed) or _broken_off(exc)
            status = error.status
            dispatch.record_failure(provider, call)
            log.warning("upstream_broke_mid_stream", provider=provider.name, sse=sse, status=status)
            if not sse:
                raise
            yield sse_error_event(error)
            return
        complete = True
        if on_complete is not None:
            on_complete(b"".join(kept) if kept is not None else None)
    except (asyncio.CancelledError, GeneratorExit):
        status = STATUS_CLIENT_CLOSED
        raise
    finally:
        if timer is not None:
            timer.cancel()
        await upstream.close()
        if complete:
            usage = usage_of(provider, call, upstream, tail, events.characters if events else relayed)
        else:
            usage = _partial_usage(call, events.characters if events else relayed)
        outcome = Outcome(provider.name, status, usage, latency_ms=milliseconds_since(started))
        end_relay_span(span, status=status, size=size, first_byte=first_byte, started=started)
        if first_byte:
            observe_phase("relay", time.perf_counter() - first_byte)
        delivered(outcome)


def start_relay_span(provider: Provider, call: ProviderCall) -> Span | None:
    """The span of relaying one upstream answer (``None`` when tracing is off)."""
    return tracing.start_span("mcp.relay", {"mcp.provider": provider.name, "mcp.model": call.model})


def end_relay_span(span: Span | None, *, status: int, size: int, first_byte: float, started: float) -> None:
    """End the relay span with the status, the bytes relayed and the time to the first byte."""
    if span is None:
        return
    attributes: dict[str, int | float] = {"http.response.status_code": status, "mcp.relay.bytes": size}
    if first_byte:
        attributes["mcp.relay.ttfb_ms"] = round((first_byte - started) * 1000, 3)
    tracing.end_span(span, attributes, error=status >= 500)


def _broken_off(exc: UpstreamError) -> HttpError:
    return HttpError(502, exc.client_message, type="upstream_error", code="upstream_error")


def usage_of(
    provider: Provider, call: ProviderCall, upstream: UpstreamResponse, tail: bytes, counted_chars: int
) -> Usage | None:
    """Usage of a complete answer: the upstream's reported usage, or the gateway's count when it reported none."""
    try:
        reported = provider.usage(call, upstream.status, upstream.headers, tail)
    except Exception as exc:  # noqa: BLE001 - a provider's parsing bug must not lose the record.
        log.error("provider_usage_failed", provider=provider.name, error_type=type(exc).__name__)
        reported = None
    return reported if reported is not None else _counted(call, counted_chars)


def _partial_usage(call: ProviderCall, output_chars: int) -> Usage | None:
    """An answer that did not arrive whole: text is charged for what was relayed; media for nothing."""
    if call.modality != "text" or not output_chars:
        return None
    return _counted(call, output_chars)


def prompt_characters(payload: dict | None) -> int:
    """Characters of the messages' text (content strings and text parts), not of their JSON encoding."""
    if not payload:
        return 0
    count = 0
    for message in payload.get("messages") or ():
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, str):
            count += len(content)
        elif isinstance(content, list):
            for part in content:
                text = part.get("text") if isinstance(part, dict) else None
                if isinstance(text, str):
                    count += len(text)
    return count


def _counted(call: ProviderCall, output_chars: int) -> Usage | None:
    """Usage estimated by the gateway when the upstream reported none: never silently zero."""
    if call.operation != "chat" and call.modality != "text":
        return None
    prompt_chars = prompt_characters(call.payload)
    return Usage(
        input_tokens=math.ceil(prompt_chars / CHARS_PER_TOKEN),
        output_tokens=math.ceil(output_chars / CHARS_PER_TOKEN),
        source="counted",
    )
