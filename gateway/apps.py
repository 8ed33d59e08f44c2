from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "gateway"
    verbose_name = "Gateway"

    def ready(self) -> None:
        from core.readiness import register_readiness_check
        from gateway.health import check_circuit_breakers, check_default_upstream

        register_readiness_check("circuit_breakers", check_circuit_breakers)
        register_readiness_check("default_upstream", check_default_upstream)
