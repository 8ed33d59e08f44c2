"""Prometheus metrics for HTTP traffic, the scrape hooks of shared-state gauges, and their exposition.

Every app counts into these and registers its hooks here; the shell mounts :func:`metrics_view` at
``/metrics``, and processes without HTTP serve the same registry with :func:`serve_metrics_port`.

Routes are labelled by their URL pattern (``/v1/chat/completions``, ``api/keys/<int:pk>``), never by
the raw path, so a scan of random URLs cannot blow up the number of time series.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import REGISTRY, Counter, Histogram, start_http_server
from prometheus_client.exposition import choose_encoder

from core.authorization import bearer_token
from core.errors import READ_METHODS, HttpError, error_response, require_method
from core.tracing import exemplar

UNMATCHED_ROUTE = "<unmatched>"
_Metric = TypeVar("_Metric", Counter, Histogram)
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


def labelled(metric: _Metric) -> Callable[..., _Metric]:
    """``metric.labels(*values)``, looked up once per distinct label values.

    ``labels()`` checks and converts its values and takes the metric's lock on every call (~1.5 µs);
    the hot path makes about ten such calls a request, a dict hit is a tenth of that. The cache holds
    exactly the children the metric itself keeps, so it is as bounded as the metric's labels are.
    """
    children: dict[tuple[Any, ...], _Metric] = {}

    def child(*values: Any) -> _Metric:
        found = children.get(values)
        if found is None:
            found = children[values] = metric.labels(*values)
        return found

    return child


_http_requests = labelled(HTTP_REQUESTS)
_http_latency = labelled(HTTP_LATENCY)


def observe_request(*, route: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request and its latency."""
    _http_requests(route, method, status).inc()
    _http_latency(route, method).observe(seconds, exemplar())


_scrape_hooks: list[Callable[[], Awaitable[None]]] = []


def register_scrape_hook(hook: Callable[[], Awaitable[None]]) -> None:
    """Run ``hook`` (async, cheap, never raising) before each scrape: gauges read from shared state."""
    if hook not in _scrape_hooks:
        _scrape_hooks.append(hook)


async def metrics_view(request: HttpRequest) -> HttpResponse:
    """Serve every registered metric: OpenMetrics (with exemplars) if the scraper asks, else Prometheus text.

    The figures include each organisation's spend, and the HTTP port is the public one: with
    ``METRICS_TOKEN`` set, only to a scraper that sends it as a Bearer token; without it, only to a
    client on this machine that came through no proxy (``kubectl port-forward``, ``make run``).
    """
    require_method(request.method, *READ_METHODS)
    if settings.METRICS_TOKEN:
        if not _holds_token(request.headers.get("Authorization", ""), settings.METRICS_TOKEN):
            return error_response(
                HttpError(
                    401,
                    "The metrics need the scrape token: send 'Authorization: Bearer <METRICS_TOKEN>'.",
                    type="authentication_error",
                    code="invalid_metrics_token",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            )
    elif not _from_this_machine(request):
        return error_response(
            HttpError(
                403,
                "Without METRICS_TOKEN, the metrics are served only to this machine: set METRICS_TOKEN "
                "and send it as 'Authorization: Bearer <token>'.",
                type="permission_error",
                code="metrics_local_only",
            )
        )
    for hook in _scrape_hooks:
        await hook()
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encode(REGISTRY), content_type=content_type)


def _from_this_machine(request: HttpRequest) -> bool:
    """A loopback peer, and no proxy header: a proxy on this machine may be relaying anyone."""
    meta = request.META
    if "HTTP_X_FORWARDED_FOR" in meta or "HTTP_FORWARDED" in meta or "HTTP_X_REAL_IP" in meta:
        return False
    try:
        peer = ipaddress.ip_address(meta.get("REMOTE_ADDR") or "")
    except ValueError:
        return False
    return (getattr(peer, "ipv4_mapped", None) or peer).is_loopback


def _holds_token(authorization: str, token: str) -> bool:
    sent = bearer_token(authorization)
    return sent is not None and hmac.compare_digest(sent.encode(), token.encode())


def serve_metrics_port(port: int) -> None:
    """Serve this process's metrics on ``port`` (all interfaces) from a daemon thread.

    For processes without HTTP of their own: the job worker and the ledger writer. A port already
    taken (a second ``manage.py`` command in the same container) is logged, not fatal.
    """
    try:
        start_http_server(port)
    except OSError as exc:
        log.warning("metrics_port_unavailable", port=port, error=str(exc)[:200])
