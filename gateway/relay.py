"""Relay an upstream answer to the client as it arrives, and account for it when it ends.

Each upstream chunk is handed on as soon as it is read: no coalescing, no whole-body buffer. The
last bytes are kept (bounded) so the provider can read the reported usage from them. When the
upstream breaks off mid-stream, an SSE client gets a final error event; a byte stream is cut, so
the client sees an incomplete body rather than a truncated file presented as whole. Whatever
happens — completion, upstream failure, client disconnect — usage so far is recorded exactly once.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable

import structlog

from core import tracing
from gateway import usage as usage_recorder
from gateway.errors import GatewayError, sse_error_event
from gateway.metrics import observe_first_byte
from gateway.sse import UsageEventFilter
from plugins.errors import UpstreamError
from plugins.types import Caller, Outcome, Provider, ProviderCall, UpstreamResponse, Usage

log = structlog.get_logger("mcp.gateway")

#: Bytes of the answer's end kept for usage extraction (the usage chunk is always near the end).
TAIL_BYTES = 8 * 1024
#: Rough characters per token, for streams whose upstream reports no usage (documented in the README).
CHARS_PER_TOKEN = 4
_CONTENT_RE = re.compile(rb'"content"\s*:\s*"((?:[^"\\]|\\.)*)"')
STATUS_CLIENT_CLOSED = 499


async def relay(
    upstream: UpstreamResponse,
    *,
    provider: Provider,
    call: ProviderCall,
    caller: Caller,
    started: float,
    sse: bool,
    strip_usage_event: bool = False,
    on_complete: Callable[[bytes | None], None] | None = None,
    keep_body_up_to: int = 0,
) -> AsyncIterator[bytes]:
    """Yield the upstream body chunk by chunk; record usage when it ends, however it ends.

    :param sse: the body is ``text/event-stream`` (errors become a final SSE event).
    :param strip_usage_event: remove the usage-only event the gateway requested on the client's behalf.
    :param on_complete: called with the whole body (if it fit in ``keep_body_up_to``) after a clean end.
    """
    tail = b""
    counted_chars = 0
    kept: list[bytes] | None = [] if keep_body_up_to else None
    kept_size = 0
    status = upstream.status
    usage_filter = UsageEventFilter() if strip_usage_event else None
    span = start_relay_span(provider, call)
    first_byte, size = 0.0, 0
    try:
        async for chunk in upstream.body:
            size += len(chunk)
            if not first_byte:
                first_byte = time.perf_counter()
                observe_first_byte(provider=provider.name, model=call.model, seconds=first_byte - started)
            if sse:
                counted_chars += sum(len(m) for m in _CONTENT_RE.findall(chunk))
            tail = (tail + chunk)[-TAIL_BYTES:]
            if kept is not None:
                kept_size += len(chunk)
                if kept_size <= keep_body_up_to:
                    kept.append(chunk)
                else:
                    kept = None
            if usage_filter is not None:
                chunk = usage_filter.feed(chunk)
                if not chunk:
                    continue
            yield chunk
        if usage_filter is not None and (rest := usage_filter.end()):
            yield rest
    except UpstreamError as exc:
        status = 502
        log.warning("upstream_broke_mid_stream", provider=provider.name, sse=sse)
        if not sse:
            raise
        yield sse_error_event(GatewayError(502, exc.client_message, type="upstream_error", code="upstream_error"))
    except (asyncio.CancelledError, GeneratorExit):
        status = STATUS_CLIENT_CLOSED
        raise
    else:
        if on_complete is not None:
            on_complete(b"".join(kept) if kept is not None else None)
    finally:
        await upstream.close()
        usage = usage_of(provider, call, upstream, tail, counted_chars)
        outcome = Outcome(provider.name, status, usage, latency_ms=(time.perf_counter() - started) * 1000)
        end_relay_span(span, status=status, size=size, first_byte=first_byte, started=started)
        usage_recorder.record(call=call, caller=caller, outcome=outcome)


def start_relay_span(provider: Provider, call: ProviderCall):
    """The span of relaying one upstream answer (``None`` when tracing is off)."""
    return tracing.start_span("mcp.relay", {"mcp.provider": provider.name, "mcp.model": call.model})


def end_relay_span(span, *, status: int, size: int, first_byte: float, started: float) -> None:
    """End the relay span with the status, the bytes relayed and the time to the first byte."""
    if span is None:
        return
    attributes = {"http.response.status_code": status, "mcp.relay.bytes": size}
    if first_byte:
        attributes["mcp.relay.ttfb_ms"] = round((first_byte - started) * 1000, 3)
    tracing.end_span(span, attributes, error=status >= 500)


def usage_of(
    provider: Provider, call: ProviderCall, upstream: UpstreamResponse, tail: bytes, counted_chars: int
) -> Usage | None:
    """The upstream's reported usage, or the gateway's own count when it reported none."""
    try:
        reported = provider.usage(call, upstream.status, upstream.headers, tail)
    except Exception as exc:  # noqa: BLE001 - a provider's parsing bug must not lose the record.
        log.error("provider_usage_failed", provider=provider.name, error_type=type(exc).__name__)
        reported = None
    return reported if reported is not None else _counted(call, counted_chars)


def _counted(call: ProviderCall, output_chars: int) -> Usage | None:
    """Usage estimated by the gateway when the upstream reported none: never silently zero."""
    if call.operation != "chat" and call.modality != "text":
        return None
    prompt_chars = len(json.dumps((call.payload or {}).get("messages", ""))) if call.payload else 0
    return Usage(
        input_tokens=max(1, prompt_chars // CHARS_PER_TOKEN) if prompt_chars else 0,
        output_tokens=max(1, output_chars // CHARS_PER_TOKEN) if output_chars else 0,
        source="counted",
    )
