"""Prometheus metrics of proxied requests, per provider and model.

Labels stay bounded: ``provider`` and ``model`` only ever take values the provider registry knows
(an unknown model is refused before routing), and statuses are folded into classes. Latency
histograms carry the trace id of a sampled request as an exemplar.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from core.metrics import labelled
from core.tracing import exemplar

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

TOKENS = Counter(
    "mcp_usage_tokens_total", "Tokens relayed, by provider, model and direction.", ["provider", "model", "direction"]
)
IMAGES = Counter("mcp_usage_images_total", "Images relayed, by provider and model.", ["provider", "model"])
GATEWAY_REQUESTS = Counter(
    "mcp_gateway_requests_total",
    "Proxied requests by operation, provider and outcome status.",
    ["operation", "provider", "status"],
)
PROVIDER_REQUESTS = Counter(
    "mcp_provider_requests_total",
    "Requests answered through a provider (cache hits excluded), by provider, model and status class "
    "(2xx, 3xx, 4xx, 5xx, or client_closed when the client left first).",
    ["provider", "model", "status_class"],
)
PROVIDER_LATENCY = Histogram(
    "mcp_provider_request_duration_seconds",
    "Whole request through a provider, to its last byte, by provider and model.",
    ["provider", "model"],
    buckets=_LATENCY_BUCKETS,
)
PROVIDER_TTFB = Histogram(
    "mcp_provider_time_to_first_byte_seconds",
    "Request start to the first byte of the provider's answer body, by provider and model.",
    ["provider", "model"],
    buckets=_LATENCY_BUCKETS,
)
_CLIENT_CLOSED = 499
tokens = labelled(TOKENS)
images = labelled(IMAGES)
gateway_requests = labelled(GATEWAY_REQUESTS)
_provider_requests = labelled(PROVIDER_REQUESTS)
_provider_latency = labelled(PROVIDER_LATENCY)
_provider_ttfb = labelled(PROVIDER_TTFB)


def status_class(status: int) -> str:
    """``2xx``…``5xx``, or ``client_closed`` for a client that left before the end."""
    return "client_closed" if status == _CLIENT_CLOSED else f"{status // 100}xx"


def observe_provider_answer(*, provider: str, model: str, status: int, seconds: float) -> None:
    """Count one request answered through ``provider`` and its whole duration."""
    _provider_requests(provider, model, status_class(status)).inc()
    _provider_latency(provider, model).observe(seconds, exemplar())


def observe_first_byte(*, provider: str, model: str, seconds: float) -> None:
    """Record the time from the request's start to the first byte of the provider's answer body."""
    _provider_ttfb(provider, model).observe(seconds, exemplar())
