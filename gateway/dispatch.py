"""Route a call to a provider and open the upstream answer, with retries, circuit breakers and fallback.

Everything here happens before the first byte reaches the client, which is what makes retrying
and falling back safe: once :func:`open_upstream` has returned, the answer is committed.
"""

from __future__ import annotations

import asyncio
import random

import stamina
import structlog
from prometheus_client import Counter, Gauge
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from core import tracing
from gateway.errors import GatewayError, from_upstream, no_provider_available
from plugins.errors import UpstreamError
from plugins.registry import Route
from plugins.types import Provider, ProviderCall, UpstreamResponse

log = structlog.get_logger("mcp.gateway")

#: Tries against one provider before moving to the next (the first try included).
ATTEMPTS_PER_PROVIDER = 2
RETRY_WAIT_INITIAL = 0.05
RETRY_WAIT_MAX = 0.5
#: An upstream asking us to wait longer than this is skipped for the next provider instead.
MAX_RETRY_AFTER_SECONDS = 1.0
#: Consecutive failures that open a provider's circuit, and how long it stays open.
BREAKER_THRESHOLD = 5
BREAKER_OPEN_SECONDS = 30

UPSTREAM_FAILURES = Counter(
    "mcp_provider_failures_total", "Upstream failures by provider and retryability.", ["provider", "retryable"]
)
CIRCUIT_OPEN = Gauge("mcp_provider_circuit_open", "1 while a provider's circuit breaker is open.", ["provider"])

# Failures that are the caller's (a 400 relayed from upstream) say nothing about the provider's health.
breakers = AsyncCircuitBreakerFactory(
    default_threshold=BREAKER_THRESHOLD,
    default_ttl=BREAKER_OPEN_SECONDS,
    exclude=[(UpstreamError, lambda exc: not exc.retryable)],
)


def _breaker_listener(name: str, event_name: str, event: object) -> None:
    if event_name == "state_changed":
        state = getattr(event, "state", "")
        CIRCUIT_OPEN.labels(name).set(1 if state == "opened" else 0)
        log.warning("circuit_breaker_state", provider=name, state=state)


breakers.add_listener(_breaker_listener)


def _should_retry(exc: Exception) -> bool:
    if not isinstance(exc, UpstreamError) or not exc.retryable:
        return False
    return exc.retry_after is None or exc.retry_after <= MAX_RETRY_AFTER_SECONDS


async def _open_once(provider: Provider, call: ProviderCall, retry: int = 0) -> UpstreamResponse:
    breaker = await breakers.get_breaker(provider.name)
    with tracing.span("mcp.upstream.attempt") as span:
        if span is not None:
            span.set_attributes({"mcp.provider": provider.name, "mcp.model": call.model, "mcp.retry": retry,
                                 "mcp.breaker.state": breaker.context.state})  # fmt: skip
        async with breaker:
            upstream = await provider.open(call)
        if span is not None:
            span.set_attribute("http.response.status_code", upstream.status)
        return upstream


async def _open_with_retries(provider: Provider, call: ProviderCall) -> UpstreamResponse:
    try:
        # The common case, a first try that works, pays nothing for the retry machinery (about 6 %
        # of a request's CPU when a retry context is built for every request).
        return await _open_once(provider, call)
    except UpstreamError as exc:
        if not _should_retry(exc) or ATTEMPTS_PER_PROVIDER < 2:
            raise
    await asyncio.sleep(RETRY_WAIT_INITIAL * (1 + random.random()))  # noqa: S311 - jitter, not crypto
    async for attempt in stamina.retry_context(
        on=_should_retry,
        attempts=ATTEMPTS_PER_PROVIDER - 1,
        wait_initial=RETRY_WAIT_INITIAL * 2,
        wait_max=RETRY_WAIT_MAX,
        wait_jitter=RETRY_WAIT_INITIAL,
    ):
        with attempt:
            return await _open_once(provider, call, retry=attempt.num)
    raise AssertionError("stamina either returns or raises")  # pragma: no cover


async def open_upstream(call: ProviderCall, routes: list[Route]) -> tuple[Provider, UpstreamResponse]:
    """Open the call on the first provider that answers, trying them in priority order.

    :raises GatewayError: 503 with ``Retry-After`` when every provider failed or has its circuit
        open; the upstream's own 4xx when it refused the request itself.
    """
    retry_after: float | None = None
    for route in routes:
        provider = route.provider
        try:
            return provider, await _open_with_retries(provider, call)
        except OpenedState:
            log.info("provider_skipped_circuit_open", provider=provider.name)
            retry_after = max(retry_after or 0, 5.0)
        except UpstreamError as exc:
            UPSTREAM_FAILURES.labels(provider.name, str(exc.retryable).lower()).inc()
            if not exc.retryable:
                raise from_upstream(exc) from None
            log.warning("provider_failed", provider=provider.name, status=exc.status)
            retry_after = max(retry_after or 0, exc.retry_after or 0) or retry_after
    raise no_provider_available(retry_after)


def breaker_states() -> dict[str, str]:
    """Circuit state (``closed``, ``opened``, ``half-opened``) of every provider called so far."""
    return {name: context.state for name, context in breakers.uow.contexts.breakers.items()}


__all__ = ["GatewayError", "breaker_states", "open_upstream"]


def reset_breakers() -> None:
    """Close every circuit (tests; and an operator's "reset" action in the admin)."""
    breakers.uow.contexts.breakers.clear()
    for sample in CIRCUIT_OPEN.collect()[0].samples:
        CIRCUIT_OPEN.labels(sample.labels["provider"]).set(0)
