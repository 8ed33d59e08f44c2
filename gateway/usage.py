"""The last step of the hot path: report what a request consumed to the metrics and the plugins."""

from __future__ import annotations

import structlog

from gateway.metrics import gateway_requests, images, observe_provider_answer, tokens
from plugins.registry import plugin_manager
from plugins.types import Caller, Outcome, ProviderCall

log = structlog.get_logger("mcp.gateway")


def report(*, call: ProviderCall, caller: Caller, outcome: Outcome) -> None:
    """Count the outcome and hand it to every ``mcp_response`` hook; never raises.

    Called once per request: by billing's settlement (``billing.hotpath.metered``) for an admitted
    request, by the pipeline for one refused before admission.
    """
    provider, usage = outcome.provider, outcome.usage
    gateway_requests(call.operation, provider or "-", outcome.status).inc()
    if provider and not outcome.cache_hit:
        observe_provider_answer(
            provider=provider, model=call.model, status=outcome.status, seconds=outcome.latency_ms / 1000
        )
    if usage is not None and provider and not outcome.cache_hit:
        if usage.input_tokens:
            tokens(provider, call.model, "input").inc(usage.input_tokens)
        if usage.output_tokens:
            tokens(provider, call.model, "output").inc(usage.output_tokens)
        if usage.images:
            images(provider, call.model).inc(usage.images)
    try:
        plugin_manager().hook.mcp_response(call=call, caller=caller, outcome=outcome)
    except Exception as exc:  # noqa: BLE001 - an observer's bug must not fail a request already answered.
        log.error("response_hook_failed", error_type=type(exc).__name__)
