from django.apps import AppConfig


class SiteConfig(AppConfig):
    """Process-wide operations set-up: tracing, and the metrics port of processes that serve no HTTP."""

    name = "mcp_site"
    label = "mcp_site"
    verbose_name = "Site"

    def ready(self) -> None:
        from django.conf import settings

        from core import tracing
        from core.metrics import serve_metrics_port

        if settings.CONFIG.otel_traces_exporters:
            # Here, before Django builds its handler, so that the Django instrumentation's middleware is in it.
            disabled = settings.CONFIG.otel_disabled_instrumentations
            tracing.configure(
                exporters=settings.CONFIG.otel_traces_exporters,
                instrument=[name for name in tracing.INSTRUMENTATIONS if name not in disabled],
            )
        if settings.CONFIG.metrics_port:
            serve_metrics_port(settings.CONFIG.metrics_port)
