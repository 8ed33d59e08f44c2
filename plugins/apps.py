from django.apps import AppConfig


class PluginsConfig(AppConfig):
    name = "plugins"
    verbose_name = "Provider plugins"

    def ready(self) -> None:
        from plugins import registry

        registry.install_plugin_manager()
