from django.apps import AppConfig


class PluginsConfig(AppConfig):
    name = "plugins"
    verbose_name = "Provider plugins"

    def ready(self) -> None:
        from core.readiness import register_readiness_check
        from plugins import registry
        from plugins.health import check_plugins

        registry.install_plugin_manager()
        register_readiness_check("plugins", check_plugins)
