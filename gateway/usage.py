"""The last step of the hot path: report what a request consumed to the plugins and the metrics."""

from __future__ import annotations

import structlog
from prometheus_client import Counter

from billing import hotpath as billing
from plugins.registry import plugin_manager
from plugins.types import Caller, Outcome, ProviderCall

log = structlog.get_logger("mcp.gateway")

TOKENS = Counter(
    "mcp_usage_tokens_total", "Tokens relayed, by provider, model and direction.", ["provider", "model", "direction"]
)
IMAGES = Counter("mcp_usage_images_total", "Images relayed, by provider and model.", ["provider", "model"])
GATEWAY_REQUESTS = Counter(
    "mcp_gateway_requests_total",
    "Proxied requests by operation, provider and outcome status.",
    ["operation", "provider", "status"],
)


def record(*, call: ProviderCall, caller: Caller, outcome: Outcome) -> None:
    """Settle billing, count the outcome and hand it to every ``mcp_response`` hook; never raises."""
    try:
        billing.settle(call=call, caller=caller, outcome=outcome)
    except Exception as exc:  # noqa: BLE001 - the reservation is reconciled later; the answer stands.
        log.error("billing_settle_failed", error_type=type(exc).__name__)
    provider, usage = outcome.provider, outcome.usage
    GATEWAY_REQUESTS.labels(call.operation, provider or "-", str(outcome.status)).inc()
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
