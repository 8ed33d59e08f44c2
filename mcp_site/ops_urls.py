"""Operations endpoints. Served before any Host check: probes and Prometheus use the pod's IP."""

from django.urls import path

from core import metrics
from mcp_site import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
]
