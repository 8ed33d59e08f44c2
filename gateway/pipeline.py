"""The hot path after parsing: route → authorise → plugins → admit → cache → provider → stream back → settle.

Views parse and validate what the client sent into a :class:`ProviderCall`; :func:`proxy` does
the rest and is the same for every endpoint. :func:`prepared` is the part a job's worker shares
(jobs/execution.py), so a request and a job pass the same checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import structlog
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from accounts.keyauth import KeyIdentity
from billing import hotpath as billing
from core import background, tracing
from core.diagnostics import milliseconds_since, observe_phase
from core.errors import ApplicationError, HttpError, invalid
from gateway import result_cache, usage
from gateway.auth import authorize
from gateway.dispatch import open_upstream
from gateway.errors import model_not_found
from gateway.metrics import observe_first_byte
from gateway.relay import TAIL_BYTES, end_relay_span, relay, start_relay_span, usage_of
from gateway.streamed import StreamedAnswer
from plugins.registry import Route, get_registry, plugin_manager
from plugins.types import Caller, Outcome, Provider, ProviderCall, UpstreamResponse

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


#: Started alongside the admission when billing allows it (see ``billing.hotpath.admit``'s
#: ``overlap``): given the call's routes, the upstream call already under way, or ``None``.
HeadStart = Callable[[list[Route]], "asyncio.Task[tuple[Provider, UpstreamResponse]] | None"]


@dataclass(slots=True)
class Exchange:
    """A call that passed the pipeline: its routes, who makes it, and its billing until it ends."""

    routes: list[Route]
    caller: Caller
    meter: billing.Meter
    #: The upstream call started alongside the admission, if one was (at most one).
    early: list[asyncio.Task[tuple[Provider, UpstreamResponse]]] = field(default_factory=list)

    def claim_early(self) -> asyncio.Task[tuple[Provider, UpstreamResponse]] | None:
        """The upstream call started alongside the admission, now the caller's to await and close."""
        return self.early.pop() if self.early else None


@contextlib.asynccontextmanager
async def prepared(
    call: ProviderCall,
    identity: KeyIdentity,
    *,
    started: float,
    ledger_id: str | None = None,
    charge_id: str = "",
    report_failures: bool = True,
    head_start: HeadStart | None = None,
) -> AsyncIterator[Exchange]:
    """Route, authorise, show the call to the ``mcp_request`` hooks and admit it — for a request and a
    job alike; when the block ends, the call is settled and reported, exactly once.

    A refusal on the way in (404 model, 403 scope, a plugin, 429/402/503 from billing) is reported
    and raised; nothing is held then. The block says what the call delivered with
    ``exchange.meter.charge(outcome)``; one that ends otherwise is settled as abandoned
    (``billing.hotpath.metered``).

    :param report_failures: report refusals and abandoned calls too (a job's attempt does not: the
        job is reported once, when it succeeds, and a failed attempt is retried).
    :param head_start: starts the upstream call while the admission is in flight, when billing
        allows it; a refusal, or a block that ends without awaiting it, cancels and closes it.
    """
    routes = await resolve_routes(call)
    caller = caller_of(identity)
    call.organization_id = identity.organization_id
    early: list[asyncio.Task[tuple[Provider, UpstreamResponse]]] = []
    # The early call runs in the request's context as it is before the admission's span opens, so
    # its spans are the request's children, as they are when it starts after the admission.
    context = contextvars.copy_context() if head_start is not None else None

    def overlap() -> None:
        assert head_start is not None and context is not None  # passed on only with a head start
        task = context.run(head_start, routes)
        if task is not None:
            early.append(task)
            stack.callback(_discard_unclaimed, early)

    async with contextlib.AsyncExitStack() as stack:
        try:
            screen(call, identity, caller)
            admitting = time.perf_counter()
            with tracing.span("mcp.admission", {"mcp.provider": routes[0].provider.name, "mcp.model": call.model}):
                meter = await stack.enter_async_context(
                    billing.metered(
                        call=call,
                        identity=identity,
                        provider=routes[0].provider,
                        started=started,
                        ledger_id=ledger_id,
                        charge_id=charge_id,
                        reporter=usage.report,
                        report_abandoned=report_failures,
                        overlap=overlap if head_start is not None else None,
                    )
                )
            observe_phase("admission", time.perf_counter() - admitting)
        except ApplicationError as exc:
            # Refused after routing (scopes, a plugin, limits, credits): still reported, exactly once.
            if report_failures:
                outcome = Outcome("", exc.status, None, latency_ms=milliseconds_since(started))
                usage.report(call=call, caller=caller, outcome=outcome)
            raise
        yield Exchange(routes, caller, meter, early)


def _discard_unclaimed(early: list[asyncio.Task[tuple[Provider, UpstreamResponse]]]) -> None:
    """An early upstream call nobody claimed (the admission refused, the client left): stopped, and
    its answer, if it came, closed. One that was claimed is its claimer's to close."""
    if not early:
        return
    task = early.pop()
    if task.done():
        _close_answer(task)
    else:
        task.cancel()
        task.add_done_callback(_close_answer)


def _close_answer(task: asyncio.Task[tuple[Provider, UpstreamResponse]]) -> None:
    if not task.cancelled() and task.exception() is None:
        background.spawn(task.result()[1].close())


async def proxy(
    call: ProviderCall, identity: KeyIdentity, request: HttpRequest, *, private: bool = False
) -> HttpResponseBase:
    """Send a validated call upstream and answer the client."""
    started = time.perf_counter()
    call.forward_headers = forwarded_headers(request)
    plans: list[_Plan] = []

    def head_start(routes: list[Route]) -> asyncio.Task[tuple[Provider, UpstreamResponse]] | None:
        plans.append(plan := _plan(call, routes, private))
        if plan.cache_key is not None:
            return None  # a cached answer may make the call unnecessary: it waits for the admission
        return asyncio.ensure_future(_opened(call, routes))

    async with contextlib.AsyncExitStack() as owner:
        exchange = await owner.enter_async_context(prepared(call, identity, started=started, head_start=head_start))
        plan = plans[0] if plans else _plan(call, exchange.routes, private)
        try:
            response = await _answer(call, exchange, owner, started, plan)
        except ApplicationError as exc:
            exc.headers = {**exchange.meter.headers, **exc.headers}
            raise
    for name, value in exchange.meter.headers.items():
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


@dataclass(slots=True)
class _Plan:
    """What is decided about a call before its upstream call: its result-cache key, and whether the
    usage event asked for on its behalf is taken out of the stream again."""

    cache_key: str | None
    strip_usage: bool


def _plan(call: ProviderCall, routes: list[Route], private: bool) -> _Plan:
    key = result_cache.cache_key(call, routes[0].provider.name, private_header=private)
    strip_usage = False
    if call.stream and call.payload is not None and call.operation == "chat":
        # Ask for usage on every stream so it can be billed; the client only sees it if it asked too.
        options = call.payload.get("stream_options") or {}
        strip_usage = not options.get("include_usage")
        call.payload["stream_options"] = {**options, "include_usage": True}
    return _Plan(key, strip_usage)


async def _opened(call: ProviderCall, routes: list[Route]) -> tuple[Provider, UpstreamResponse]:
    opening = time.perf_counter()
    opened = await open_upstream(call, routes)
    observe_phase("upstream", time.perf_counter() - opening)
    return opened


async def _answer(
    call: ProviderCall, exchange: Exchange, owner: contextlib.AsyncExitStack, started: float, plan: _Plan
) -> HttpResponseBase:
    """The answer of an admitted call. A streamed one takes over ``owner`` (the call's billing), which
    its body closes when the stream ends."""
    routes, meter, key, strip_usage = exchange.routes, exchange.meter, plan.cache_key, plan.strip_usage
    early = exchange.claim_early()
    if key is not None:
        cached = await result_cache.lookup(key)
        if cached is not None:
            name = routes[0].provider.name
            meter.charge(Outcome(name, cached.status, None, cache_hit=True, latency_ms=milliseconds_since(started)))
            return _cached_response(cached)

    try:
        provider, upstream = await (early if early is not None else _opened(call, routes))
    except asyncio.CancelledError:
        if early is not None:  # its answer may have come just as the client left
            _discard_unclaimed([early])
        raise
    # Closed with the call however it ends, even if its body is never read (the relay closes it
    # too; closing is idempotent, and gives the provider's lease back once).
    owner.push_async_callback(upstream.close)

    if upstream.buffered is not None:
        return await _buffered(call, meter, provider, upstream, key, started)

    def remember(body: bytes | None) -> None:
        if key is not None and body is not None:
            answer = result_cache.CachedAnswer(upstream.status, upstream.content_type, tuple(upstream.headers), body)
            background.spawn(result_cache.store(key, answer))

    sse = upstream.content_type.startswith("text/event-stream")
    body = relay(
        upstream,
        provider=provider,
        call=call,
        delivered=meter.charge,
        started=started,
        sse=sse,
        strip_usage_event=strip_usage,
        on_complete=remember,
        keep_body_up_to=result_cache.MAX_ENTRY_BYTES if key else 0,
    )
    # The body takes the call's billing over: it is settled when the handler closes the body.
    response = StreamedAnswer(body, owner=owner.pop_all(), status=upstream.status, content_type=upstream.content_type)
    _copy_headers(response, upstream.headers)
    if sse:
        for name, value in SSE_HEADERS.items():
            response[name] = value
    if key is not None:
        response["X-Cache"] = "MISS"
    return response


async def _buffered(
    call: ProviderCall,
    meter: billing.Meter,
    provider: Provider,
    upstream: UpstreamResponse,
    key: str | None,
    started: float,
) -> HttpResponse:
    """A JSON answer the dispatcher has read and checked whole: answered in one piece."""
    body = upstream.buffered
    assert body is not None
    span = start_relay_span(provider, call)
    first_byte = time.perf_counter()  # the dispatcher read and checked the body: it is all here now
    observe_first_byte(provider=provider.name, model=call.model, seconds=first_byte - started)
    await upstream.close()
    end_relay_span(span, status=upstream.status, size=len(body), first_byte=first_byte, started=started)
    usage_ = usage_of(provider, call, upstream, body[-TAIL_BYTES:], 0) if upstream.status < 400 else None
    meter.charge(Outcome(provider.name, upstream.status, usage_, latency_ms=milliseconds_since(started)))
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
