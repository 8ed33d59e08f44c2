from django.apps import AppConfig


class SiteConfig(AppConfig):
    """Process-wide operations set-up: the metrics port of processes that serve no HTTP."""

    name = "mcp_site"
    label = "mcp_site"
    verbose_name = "Site"

    def ready(self) -> None:
        from django.conf import settings

        from mcp_site.metrics import serve_metrics_port

        if settings.CONFIG.metrics_port:
            serve_metrics_port(settings.CONFIG.metrics_port)
