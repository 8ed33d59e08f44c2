"""The last step of the hot path: report what a request consumed to the plugins and the metrics."""

from __future__ import annotations

import time

import structlog

from billing import hotpath as billing
from core import tracing
from core.diagnostics import observe_phase
from gateway.metrics import GATEWAY_REQUESTS, IMAGES, TOKENS, observe_provider_answer
from plugins.registry import plugin_manager
from plugins.types import Caller, Outcome, ProviderCall

log = structlog.get_logger("mcp.gateway")


def record(*, call: ProviderCall, caller: Caller, outcome: Outcome) -> None:
    """Settle billing, count the outcome and hand it to every ``mcp_response`` hook; never raises."""
    started = time.perf_counter()
    try:
        # The settlement's Redis round trip runs in a background task that inherits this span.
        with tracing.span("mcp.settlement", {"http.response.status_code": outcome.status}):
            billing.settle(call=call, caller=caller, outcome=outcome)
    except Exception as exc:  # noqa: BLE001 - the reservation is reconciled later; the answer stands.
        log.error("billing_settle_failed", error_type=type(exc).__name__)
    provider, usage = outcome.provider, outcome.usage
    GATEWAY_REQUESTS.labels(call.operation, provider or "-", str(outcome.status)).inc()
    if provider and not outcome.cache_hit:
        observe_provider_answer(
            provider=provider, model=call.model, status=outcome.status, seconds=outcome.latency_ms / 1000
        )
    if usage is not None and provider and not outcome.cache_hit:
        if usage.input_tokens:
            TOKENS.labels(provider, call.model, "input").inc(usage.input_tokens)
        if usage.output_tokens:
            TOKENS.labels(provider, call.model, "output").inc(usage.output_tokens)
        if usage.images:
            IMAGES.labels(provider, call.model).inc(usage.images)
    try:
        plugin_manager().hook.mcp_response(call=call, caller=caller, outcome=outcome)
    except Exception as exc:  # noqa: BLE001 - an observer's bug must not fail a request already answered.
        log.error("response_hook_failed", error_type=type(exc).__name__)
    observe_phase("settlement", time.perf_counter() - started)
