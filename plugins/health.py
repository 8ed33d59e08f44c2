"""The ``plugins`` readiness check: broken plugins, skipped provider classes, configuration errors.

A broken plugin or a misconfigured provider does not make the instance unready: every replica
runs the same code and configuration, so taking them out of the load balancer would turn one
broken provider into a full outage. They are listed in the check's detail (and logged) instead.
Only an instance with no provider at all is unready, since it can answer nothing.
"""

from __future__ import annotations

from plugins import manager, registry


async def check_plugins() -> dict:
    """Readiness detail of the plugin system; ``ok`` is false only when no provider is available.

    It reads the registry this process last loaded (every request reloads it when stale) and never
    the database itself: a database that hangs would hold the sync thread the other checks need,
    and the ``database`` check already reports it.
    """
    detail: dict = {
        "plugins": [name for name, _ in registry.plugin_manager().list_name_plugin()],
        # Types only: exception messages may carry paths or hosts.
        "broken": [{"name": b.name, "error": b.error_type} for b in manager.BROKEN],
        "incompatible": sorted(registry.incompatible_provider_classes()),
    }
    current = registry.current_registry()
    if current is None:
        return {**detail, "registry": "not loaded yet (the first request loads it)"}
    detail["providers"] = [provider.name for provider in current.providers]
    detail["configuration_errors"] = list(current.errors)
    if not current.providers:
        return {**detail, "ok": False, "error": "no provider is enabled and correctly configured"}
    return detail
