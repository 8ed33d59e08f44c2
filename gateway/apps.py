from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "gateway"
    verbose_name = "Gateway"

    def ready(self) -> None:
        from gateway.health import check_circuit_breakers
        from mcp_site.health import register_readiness_check

        register_readiness_check("circuit_breakers", check_circuit_breakers)
