"""Route a call to a provider and open the upstream answer, with retries, circuit breakers and fallback.

Everything here happens before the first byte reaches the client, which is what makes retrying
and falling back safe: once :func:`open_upstream` has returned, the answer is committed. An answer
is only taken once :func:`gateway.answers.check` accepted it (a ``200`` carrying an error object
is a failure like a ``502``). The whole call, every attempt and the relay included, has one
deadline (:func:`deadline_seconds`).

When no provider is left, the caller gets the honest class of the last failure: ``502
upstream_error`` for a bad answer, ``504 upstream_timeout`` for a timeout, ``429``/``503`` with the
upstream's own ``Retry-After`` when it gave one; ``503 no_provider_available`` only when every
provider's circuit is open (no attempt was made), with the time until the first one closes.
"""

from __future__ import annotations

import asyncio
import random
import time

import stamina
import structlog
from django.conf import settings
from prometheus_client import Counter

from core import breakers, tracing
from core.breakers import BREAKER_THRESHOLD
from core.errors import HttpError
from gateway import answers
from gateway.errors import from_upstream, no_provider_available, upstream_timeout
from plugins import registry
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
#: When neither the provider nor ``MCP_UPSTREAM_DEADLINES`` names the operation.
FALLBACK_DEADLINE_SECONDS = 300.0

UPSTREAM_FAILURES = Counter(
    "mcp_provider_failures_total", "Upstream failures by provider and retryability.", ["provider", "retryable"]
)


def deadline_seconds(provider: Provider, operation: str) -> float:
    """Total seconds for one call: the provider's ``deadline_seconds`` option, else the operation's default."""
    option = provider.settings.options.get("deadline_seconds")
    if isinstance(option, int | float) and not isinstance(option, bool) and option > 0:
        return float(option)
    return float(settings.MCP_UPSTREAM_DEADLINES.get(operation, FALLBACK_DEADLINE_SECONDS))


def organization_of(call: ProviderCall) -> int | None:
    """The organisation a call is billed to (breakers keep a failure streak per organisation)."""
    return call.organization_id


def _should_retry(exc: Exception) -> bool:
    """Same provider again: only for quick failures (a timeout already spent its share of the deadline)."""
    if not isinstance(exc, UpstreamError) or not exc.retryable or exc.timeout:
        return False
    return exc.retry_after is None or exc.retry_after <= MAX_RETRY_AFTER_SECONDS


def _counts_against_provider(exc: UpstreamError) -> bool:
    """A 4xx relayed from upstream is the caller's; everything retryable or slow is the provider's."""
    return exc.retryable or exc.timeout


def _releasing(upstream: UpstreamResponse, provider: Provider) -> None:
    """Give the provider's lease back when the answer is closed (once, however often close is called)."""
    close = upstream.close
    released = False

    async def close_and_release() -> None:
        nonlocal released
        try:
            await close()
        finally:
            if not released:
                released = True
                registry.release(provider)

    upstream.close = close_and_release


async def _open_once(
    provider: Provider, call: ProviderCall, organization: int | None, retry: int = 0
) -> UpstreamResponse:
    """One try: open and check the answer; the provider's breaker hears how it went."""
    registry.lease(provider)
    upstream: UpstreamResponse | None = None
    try:
        with tracing.span("mcp.upstream.attempt") as span:
            if span is not None:
                state = breakers.breaker(provider.name).state(time.monotonic())
                span.set_attributes(
                    {
                        "mcp.provider": provider.name,
                        "mcp.model": call.model,
                        "mcp.retry": retry,
                        "mcp.breaker.state": state,
                    }
                )
                # The upstream continues this attempt's span: a retry or a fallback sends its own.
                tracing.inject(call.forward_headers)
            upstream = await provider.open(call)
            if span is not None:
                span.set_attribute("http.response.status_code", upstream.status)
            await answers.check(call, upstream)
    except BaseException as exc:
        # Cancelled (the client left, the deadline passed) or failed: nothing is relayed from this try.
        if upstream is not None:
            await upstream.close()  # no suspension inside: safe while being cancelled
        registry.release(provider)
        if isinstance(exc, UpstreamError) and _counts_against_provider(exc):
            breakers.breaker(provider.name).failure(organization, unreachable=exc.unreachable, now=time.monotonic())
        raise
    breakers.breaker(provider.name).success(organization)
    _releasing(upstream, provider)
    return upstream


async def _open_with_retries(provider: Provider, call: ProviderCall, organization: int | None) -> UpstreamResponse:
    try:
        # The common case, a first try that works, pays nothing for the retry machinery (about 6 %
        # of a request's CPU when a retry context is built for every request).
        return await _open_once(provider, call, organization)
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
            return await _open_once(provider, call, organization, retry=attempt.num)
    raise AssertionError("stamina either returns or raises")  # pragma: no cover


async def open_upstream(call: ProviderCall, routes: list[Route]) -> tuple[Provider, UpstreamResponse]:
    """Open the call on the first provider that answers acceptably, trying them in priority order.

    Sets ``call.deadline`` (event-loop time) if the caller has not, and keeps to it.

    :raises HttpError: the last failure's honest status (module docstring); the upstream's own
        4xx when it refused the request itself.
    """
    loop = asyncio.get_running_loop()
    if not call.deadline:
        call.deadline = loop.time() + deadline_seconds(routes[0].provider, call.operation)
    organization = organization_of(call)
    last: UpstreamError | None = None
    soonest: float | None = None
    trying: Provider | None = None
    try:
        async with asyncio.timeout_at(call.deadline):
            for route in routes:
                provider = route.provider
                wait = breakers.breaker(provider.name).open_for(organization, time.monotonic())
                if wait:
                    log.info("provider_skipped_circuit_open", provider=provider.name)
                    soonest = wait if soonest is None else min(soonest, wait)
                    continue
                trying = provider
                try:
                    return provider, await _open_with_retries(provider, call, organization)
                except UpstreamError as exc:
                    UPSTREAM_FAILURES.labels(provider.name, str(exc.retryable).lower()).inc()
                    if not _counts_against_provider(exc):
                        raise from_upstream(exc) from None
                    log.warning("provider_failed", provider=provider.name, status=exc.status, timeout=exc.timeout)
                    last = exc
    except TimeoutError:
        if trying is not None:
            UPSTREAM_FAILURES.labels(trying.name, "true").inc()
            breakers.breaker(trying.name).failure(organization, unreachable=False, now=time.monotonic())
        raise upstream_timeout() from None
    if last is None:
        raise no_provider_available(soonest)
    raise from_upstream(last)


def record_failure(provider: Provider, call: ProviderCall) -> None:
    """An answer that failed after it was committed (a broken stream) still counts against its provider."""
    breakers.breaker(provider.name).failure(organization_of(call), unreachable=False, now=time.monotonic())


def breaker_states() -> dict[str, str]:
    """Circuit state (``closed`` or ``opened``) of every provider called so far, as of now."""
    return breakers.states()


def reset_breakers() -> None:
    """Close every circuit (tests; and an operator's "reset" action in the admin)."""
    breakers.reset()


__all__ = [
    "BREAKER_THRESHOLD",
    "HttpError",
    "breaker_states",
    "deadline_seconds",
    "open_upstream",
    "record_failure",
    "reset_breakers",
]
