"""Prometheus metrics for HTTP traffic, the scrape hooks of shared-state gauges, and their exposition.

Every app counts into these and registers its hooks here; the shell mounts :func:`metrics_view` at
``/metrics``, and processes without HTTP serve the same registry with :func:`serve_metrics_port`.

Routes are labelled by their URL pattern (``/v1/chat/completions``, ``api/keys/<int:pk>``), never by
the raw path, so a scan of random URLs cannot blow up the number of time series.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from django.http import HttpRequest, HttpResponse
from prometheus_client import REGISTRY, Counter, Histogram, start_http_server
from prometheus_client.exposition import choose_encoder

from core.tracing import exemplar

UNMATCHED_ROUTE = "<unmatched>"
log = structlog.get_logger("mcp.metrics")

HTTP_REQUESTS = Counter(
    "mcp_http_requests_total",
    "HTTP requests answered, by route, method and status code.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "mcp_http_request_duration_seconds",
    "Time to the response headers, by route and method.",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


def observe_request(*, route: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request and its latency."""
    HTTP_REQUESTS.labels(route, method, str(status)).inc()
    HTTP_LATENCY.labels(route, method).observe(seconds, exemplar())


_scrape_hooks: list[Callable[[], Awaitable[None]]] = []


def register_scrape_hook(hook: Callable[[], Awaitable[None]]) -> None:
    """Run ``hook`` (async, cheap, never raising) before each scrape: gauges read from shared state."""
    if hook not in _scrape_hooks:
        _scrape_hooks.append(hook)


async def metrics_view(request: HttpRequest) -> HttpResponse:
    """Serve every registered metric: OpenMetrics (with exemplars) if the scraper asks, else Prometheus text."""
    for hook in _scrape_hooks:
        await hook()
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encode(REGISTRY), content_type=content_type)


def serve_metrics_port(port: int) -> None:
    """Serve this process's metrics on ``port`` (all interfaces) from a daemon thread.

    For processes without HTTP of their own: the job worker and the ledger writer. A port already
    taken (a second ``manage.py`` command in the same container) is logged, not fatal.
    """
    try:
        start_http_server(port)
    except OSError as exc:
        log.warning("metrics_port_unavailable", port=port, error=str(exc)[:200])
