"""The hot path after parsing: route → authorise → plugins → cache → provider → stream back → usage.

Views parse and validate what the client sent into a :class:`ProviderCall`; :func:`proxy` does
the rest and is the same for every endpoint.
"""

from __future__ import annotations

import asyncio
import time

import structlog
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse

from accounts.keyauth import KeyIdentity
from billing import hotpath as billing
from core import tracing
from core.diagnostics import observe_phase
from core.errors import HttpError, invalid
from gateway import result_cache
from gateway import usage as usage_recorder
from gateway.auth import authorize
from gateway.dispatch import open_upstream
from gateway.errors import model_not_found
from gateway.metrics import observe_first_byte
from gateway.relay import STATUS_CLIENT_CLOSED, TAIL_BYTES, end_relay_span, relay, start_relay_span, usage_of
from plugins.registry import Route, get_registry, plugin_manager
from plugins.types import Caller, Outcome, ProviderCall

log = structlog.get_logger("mcp.gateway")

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def caller_of(identity: KeyIdentity) -> Caller:
    return Caller(organization_id=identity.organization_id, key_id=identity.key_id, user_id=identity.user_id)


async def resolve_routes(call: ProviderCall) -> list[Route]:
    """Providers for the call's model and operation, the call's modality set from them; 404 for an
    unknown model, 400 for a wrong operation."""
    registry = await get_registry()
    routes = registry.routes(call.model, call.operation)
    if routes:
        call.modality = routes[0].model.modality
        return routes
    if registry.knows(call.model):
        raise invalid(
            f"The model {call.model!r} cannot be used for {call.operation}.", param="model", code="model_not_supported"
        )
    raise model_not_found(call.model)


def forwarded_headers(request: HttpRequest) -> dict[str, str]:
    """The client headers the operator allowed through to the upstream (``MCP_FORWARD_HEADERS``)."""
    meta = request.META
    forwarded = {}
    for name in settings.MCP_FORWARD_HEADERS:
        value = meta.get("HTTP_" + name.upper().replace("-", "_"))
        if value is not None:
            forwarded[name] = value
    # With tracing on, the upstream (and a job's worker) continue the gateway's trace, not the caller's.
    tracing.inject(forwarded)
    return forwarded


async def proxy(
    call: ProviderCall, identity: KeyIdentity, request: HttpRequest, *, private: bool = False
) -> HttpResponseBase:
    """Send a validated call upstream and answer the client."""
    started = time.perf_counter()
    call.forward_headers = forwarded_headers(request)
    routes = await resolve_routes(call)
    caller = caller_of(identity)
    try:
        screen(call, identity, caller)
        # Limits and credits, before anything reaches an upstream; usage_recorder.record() settles it.
        admitting = time.perf_counter()
        with tracing.span("mcp.admission", {"mcp.provider": routes[0].provider.name, "mcp.model": call.model}):
            admission = await billing.admit(call=call, identity=identity, provider=routes[0].provider)
        observe_phase("admission", time.perf_counter() - admitting)
    except HttpError as exc:
        # Refused after routing (scopes, a plugin, limits, credits): still reported, exactly once.
        outcome = Outcome("", exc.status, None, latency_ms=(time.perf_counter() - started) * 1000)
        usage_recorder.record(call=call, caller=caller, outcome=outcome)
        raise
    try:
        response = await _proxy_admitted(call, caller, routes, started, private)
    except HttpError as exc:
        billing.abandon(call)
        exc.headers = {**admission.headers, **exc.headers}
        raise
    except BaseException as exc:
        if not getattr(call.admission, "settled", True):
            # Cancelled while waiting for the upstream: the client left (499), and is reported as such.
            status = STATUS_CLIENT_CLOSED if isinstance(exc, asyncio.CancelledError) else 500
            outcome = Outcome("", status, None, latency_ms=(time.perf_counter() - started) * 1000)
            usage_recorder.record(call=call, caller=caller, outcome=outcome)
        raise
    for name, value in admission.headers.items():
        response[name] = value
    return response


def screen(call: ProviderCall, identity: KeyIdentity, caller: Caller) -> None:
    """What a routed call must pass before billing, for a request and a job alike: the key's scopes,
    then the ``mcp_request`` hooks, which may amend or refuse it; a plugin that crashes refuses it
    (fail closed)."""
    authorize(identity, modality=call.modality, model=call.model)
    try:
        refusal = plugin_manager().hook.mcp_request(call=call, caller=caller)
    except Exception as exc:  # noqa: BLE001 - a guardrail that cannot decide must not wave requests through.
        log.error("request_hook_failed", error_type=type(exc).__name__)
        raise HttpError(
            500, "A request plugin failed; the request was not sent.", type="server_error", code="plugin_error"
        ) from None
    if refusal:
        raise HttpError(400, str(refusal), code="request_refused")


async def _proxy_admitted(
    call: ProviderCall, caller: Caller, routes: list[Route], started: float, private: bool
) -> HttpResponseBase:
    key = result_cache.cache_key(call, routes[0].provider.name, private_header=private)
    if key is not None:
        cached = await result_cache.lookup(key)
        if cached is not None:
            outcome = Outcome(
                routes[0].provider.name,
                cached.status,
                None,
                cache_hit=True,
                latency_ms=(time.perf_counter() - started) * 1000,
            )
            usage_recorder.record(call=call, caller=caller, outcome=outcome)
            return _cached_response(cached)

    strip_usage = False
    if call.stream and call.payload is not None and call.operation == "chat":
        # Ask for usage on every stream so it can be billed; the client only sees it if it asked too.
        options = call.payload.get("stream_options") or {}
        strip_usage = not options.get("include_usage")
        call.payload["stream_options"] = {**options, "include_usage": True}

    opening = time.perf_counter()
    try:
        provider, upstream = await open_upstream(call, routes)
        observe_phase("upstream", time.perf_counter() - opening)
    except HttpError as exc:
        outcome = Outcome("", exc.status, None, latency_ms=(time.perf_counter() - started) * 1000)
        usage_recorder.record(call=call, caller=caller, outcome=outcome)
        raise

    if upstream.buffered is not None:
        return await _buffered(call, caller, provider, upstream, key, started)

    def remember(body: bytes | None) -> None:
        if key is not None and body is not None:
            answer = result_cache.CachedAnswer(upstream.status, upstream.content_type, tuple(upstream.headers), body)
            _spawn(result_cache.store(key, answer))

    sse = upstream.content_type.startswith("text/event-stream")
    response = StreamingHttpResponse(
        relay(
            upstream,
            provider=provider,
            call=call,
            caller=caller,
            started=started,
            sse=sse,
            strip_usage_event=strip_usage,
            on_complete=remember,
            keep_body_up_to=result_cache.MAX_ENTRY_BYTES if key else 0,
        ),
        status=upstream.status,
        content_type=upstream.content_type,
    )
    _copy_headers(response, upstream.headers)
    if sse:
        for name, value in SSE_HEADERS.items():
            response[name] = value
    if key is not None:
        response["X-Cache"] = "MISS"
    return response


async def _buffered(call, caller, provider, upstream, key, started) -> HttpResponse:
    """A JSON answer the dispatcher has read and checked whole: answered in one piece."""
    body = upstream.buffered
    span = start_relay_span(provider, call)
    first_byte = time.perf_counter()  # the dispatcher read and checked the body: it is all here now
    observe_first_byte(provider=provider.name, model=call.model, seconds=first_byte - started)
    await upstream.close()
    end_relay_span(span, status=upstream.status, size=len(body), first_byte=first_byte, started=started)
    usage = usage_of(provider, call, upstream, body[-TAIL_BYTES:], 0) if upstream.status < 400 else None
    outcome = Outcome(provider.name, upstream.status, usage, latency_ms=(time.perf_counter() - started) * 1000)
    usage_recorder.record(call=call, caller=caller, outcome=outcome)
    response = HttpResponse(body, status=upstream.status, content_type=upstream.content_type)
    _copy_headers(response, upstream.headers)
    if key is not None:
        await result_cache.store(
            key, result_cache.CachedAnswer(upstream.status, upstream.content_type, tuple(upstream.headers), body)
        )
        response["X-Cache"] = "MISS"
    return response


def _cached_response(cached: result_cache.CachedAnswer) -> HttpResponse:
    response = HttpResponse(cached.body, status=cached.status, content_type=cached.content_type)
    _copy_headers(response, list(cached.headers))
    response["X-Cache"] = "HIT"
    return response


def _copy_headers(response: HttpResponseBase, headers: list[tuple[str, str]]) -> None:
    for name, value in headers:
        if name.lower() != "content-type":
            response[name] = value


_background: set = set()


def _spawn(coroutine) -> None:
    """Run a fire-and-forget coroutine, keeping a reference so it is not garbage-collected mid-way."""
    task = asyncio.ensure_future(coroutine)
    _background.add(task)
    task.add_done_callback(_background.discard)
