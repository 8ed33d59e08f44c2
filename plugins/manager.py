"""The one plugin manager: built-ins and installed plugins, registered the same way.

Installed plugins are setuptools entry points of group ``mcp_gateway.plugins``. A plugin that fails
to import or register is recorded in :data:`BROKEN` (shown in the admin, the logs and ``/readyz``)
and skipped; it never takes the gateway down.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import pluggy
import structlog

from core.version import __version__
from plugins import hookspecs
from plugins.types import Provider

log = structlog.get_logger(__name__)

ENTRY_POINT_GROUP = "mcp_gateway.plugins"
BUILTIN_PLUGINS: tuple[str, ...] = (
    "plugins.builtin.pollinations",
    "plugins.builtin.openai_compatible",
)


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """What the admin shows about a plugin."""

    name: str
    package: str
    version: str
    hooks: tuple[str, ...]
    builtin: bool


@dataclass(frozen=True, slots=True)
class BrokenPlugin:
    """A plugin that was skipped, and why: ``error_type`` alone is safe to show outside the admin."""

    name: str
    error_type: str
    error: str


#: Plugins that could not be loaded in this process, with the reason (no traceback).
BROKEN: list[BrokenPlugin] = []


def build_plugin_manager(*, load_entry_points: bool = True, blocked: tuple[str, ...] = ()) -> pluggy.PluginManager:
    """Create the manager, register built-ins and installed plugins, and check hook names.

    :param load_entry_points: ``False`` in tests that want only the built-ins.
    :param blocked: plugin names to skip (``pm.set_blocked``), e.g. from settings.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in blocked:
        pm.set_blocked(name)
    BROKEN.clear()
    for module_name in BUILTIN_PLUGINS:
        if pm.is_blocked(module_name):
            continue
        _register(pm, module_name, partial(_register_builtin, pm, module_name))
    if load_entry_points:
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if pm.is_blocked(entry_point.name):
                continue
            _register(pm, entry_point.name, partial(_register_installed, pm, entry_point.name))
    return pm


def _register_builtin(pm: pluggy.PluginManager, module_name: str) -> object:
    plugin = importlib.import_module(module_name)
    pm.register(plugin, name=module_name)
    return plugin


def _register_installed(pm: pluggy.PluginManager, name: str) -> object:
    """Load and register one entry point through pluggy, which records its distribution (name, version)."""
    if pm.has_plugin(name):
        # pluggy would skip it without a word; a second plugin claiming a taken name is broken instead.
        raise ValueError(f"Plugin name already registered: {name}")
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=name)
    return pm.get_plugin(name)


def _register(pm: pluggy.PluginManager, name: str, register: Callable[[], object]) -> None:
    previous = pm.get_plugin(name)
    try:
        plugin = register()
        # A misspelt hook name fails here, at start-up, not silently at call time.
        pm.check_pending()
        _check_provider_classes(pm, plugin)
    except Exception as exc:  # noqa: BLE001 - a broken plugin is reported and skipped.
        # Only this plugin (registered, or half-registered by a failed validation): a name clash must
        # not unregister the plugin that holds the name already.
        if pm.get_plugin(name) is not None and pm.get_plugin(name) is not previous:
            pm.unregister(name=name)
        BROKEN.append(BrokenPlugin(name=name, error_type=type(exc).__name__, error=f"{type(exc).__name__}: {exc}"))
        log.error("plugin_broken", plugin=name, error_type=type(exc).__name__, error=str(exc))


def _check_provider_classes(pm: pluggy.PluginManager, plugin: object) -> None:
    """Call the plugin's ``mcp_provider_classes`` alone, so that its failure is pinned on it.

    The registry later calls the hook for every plugin at once (a historic call), where one
    plugin's exception would hide every other plugin's classes.
    """
    for impl in pm.hook.mcp_provider_classes.get_hookimpls():
        if impl.plugin is not plugin or impl.hookwrapper or impl.wrapper:
            continue
        returned = impl.function()
        if not isinstance(returned, list | tuple) or not all(
            isinstance(cls, type) and issubclass(cls, Provider) and cls.kind for cls in returned
        ):
            raise TypeError("mcp_provider_classes must return a list of Provider subclasses, each with a kind.")


def plugin_infos(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """Name, package, version and implemented hooks of every registered plugin.

    An installed plugin's package and version are its distribution's, as pluggy recorded them when it
    loaded the entry point; a built-in's are the gateway's.
    """
    distributions = {id(plugin): dist for plugin, dist in pm.list_plugin_distributions()}
    infos = []
    for name, plugin in pm.list_name_plugin():
        dist = distributions.get(id(plugin))
        package, version = (dist.metadata["Name"], dist.version) if dist is not None else ("mcp-gateway", __version__)
        infos.append(
            PluginInfo(
                name=name,
                package=package,
                version=version,
                hooks=tuple(sorted(caller.name for caller in pm.get_hookcallers(plugin) or ())),
                builtin=name in BUILTIN_PLUGINS,
            )
        )
    return infos
