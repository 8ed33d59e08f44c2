"""The provider registry: provider classes from plugins × instances from the environment and the admin.

The registry is rebuilt when the admin configuration changes (checked at most every
:data:`RELOAD_SECONDS`), so operators' edits reach every replica without a restart.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, replace

import pluggy
import structlog
from django.conf import settings

from core.version import __version__
from plugins import manager
from plugins.errors import PluginConfigurationError
from plugins.types import ModelInfo, Provider, ProviderSettings

log = structlog.get_logger(__name__)

RELOAD_SECONDS = 10.0
#: The version plugins' ``min_gateway_version``/``max_gateway_version`` are compared with.
GATEWAY_VERSION = __version__
_pm: pluggy.PluginManager | None = None
_classes: dict[str, type[Provider]] = {}
#: Provider kind → why its class was skipped (written for a different gateway version).
_incompatible: dict[str, str] = {}
#: Provider kind → which of the classes declaring it is used, and which are ignored.
_duplicates: dict[str, str] = {}


def install_plugin_manager(pm: pluggy.PluginManager | None = None) -> pluggy.PluginManager:
    """Build (or install the given) plugin manager for this process and collect its provider classes.

    ``mcp_provider_classes`` is historic: a plugin registered later (a test, a late import) still
    has its classes collected, through the same callback.
    """
    global _pm
    _pm = pm or manager.build_plugin_manager(blocked=tuple(settings.MCP_BLOCKED_PLUGINS))
    _classes.clear()
    _incompatible.clear()
    _duplicates.clear()
    try:
        _pm.hook.mcp_provider_classes.call_historic(result_callback=_collect_classes)
    except Exception as exc:  # noqa: BLE001 - the manager checked each plugin's answer; this is a last resort.
        log.error("provider_classes_failed", error_type=type(exc).__name__, error=str(exc))
    reset_registry()
    return _pm


def _collect_classes(returned: list[type[Provider]] | None) -> None:
    for cls in returned or ():
        if not cls.supports_gateway(GATEWAY_VERSION):
            _incompatible[cls.kind] = (
                f"{cls.kind} {cls.version} supports gateway {cls.min_gateway_version} to "
                f"{cls.max_gateway_version or 'any later version'}; this gateway is {GATEWAY_VERSION}"
            )
            log.warning("provider_incompatible", kind=cls.kind, reason=_incompatible[cls.kind])
            continue
        current = _classes.get(cls.kind)
        if current is not None and current is not cls:
            cls = _report_duplicate(current, cls)
        _classes[cls.kind] = cls
    # New provider kinds: the next request rebuilds the registry.
    reset_registry()


def _class_name(cls: type[Provider]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _report_duplicate(current: type[Provider], other: type[Provider]) -> type[Provider]:
    """Two classes declare one kind: an installed plugin's wins over a built-in, else the first collected.

    Hooks run in plugin order, built-ins last (``trylast``). The clash is logged and shown in the admin.
    """
    used, ignored = (other, current) if _is_builtin(current) and not _is_builtin(other) else (current, other)
    _duplicates[used.kind] = (
        f"{used.kind}: declared by {_class_name(used)} and {_class_name(ignored)}; {_class_name(used)} is used"
    )
    log.warning("provider_kind_duplicate", kind=used.kind, used=_class_name(used), ignored=_class_name(ignored))
    return used


def _is_builtin(cls: type[Provider]) -> bool:
    return cls.__module__.split(".")[:2] == ["plugins", "builtin"]


def plugin_manager() -> pluggy.PluginManager:
    return _pm if _pm is not None else install_plugin_manager()


@dataclass(frozen=True, slots=True)
class Route:
    provider: Provider
    model: ModelInfo


class ProviderRegistry:
    """Which provider instances exist and which models each serves."""

    def __init__(self, instances: list[Provider], errors: list[str], signature: tuple = ()) -> None:
        self.providers = sorted(instances, key=lambda p: (p.settings.priority, p.name))
        self.errors = errors
        #: The configuration it was built from; an equal one found at reload keeps this registry.
        self.signature = signature
        self._routes: dict[str, list[Route]] = {}
        for provider in self.providers:
            try:
                served = provider.models()
            except Exception as exc:  # noqa: BLE001 - reported, the provider simply routes nothing.
                errors.append(f"{provider.name}: models() failed with {type(exc).__name__}")
                continue
            by_id = {model.id: model for model in served}
            for model in served:
                for name in (model.id, *model.aliases):
                    self._routes.setdefault(name, []).append(Route(provider, model))
            for alias, target in provider.settings.model_aliases.items():
                if alias in by_id:
                    continue  # a served id: the alias only renames it upstream, it is routed already
                # An alias of a served model routes to that model only; of an unlisted one, to any that fits.
                for model in [by_id[target]] if target in by_id else served:
                    self._routes.setdefault(alias, []).append(Route(provider, model))

    def routes(self, model: str, operation: str) -> list[Route]:
        """Providers serving ``model`` for ``operation``, best priority first, each provider once."""
        routes, seen = [], set()
        for route in self._routes.get(model, ()):
            if operation in route.model.operations and route.provider.name not in seen:
                seen.add(route.provider.name)
                routes.append(route)
        return routes

    def knows(self, model: str) -> bool:
        return model in self._routes

    def models(self) -> list[tuple[Provider, ModelInfo]]:
        """Every model once, from the best-priority provider serving it; a failing provider is left out."""
        seen: set[str] = set()
        listed = []
        for provider in self.providers:
            try:
                served = provider.models()
            except Exception as exc:  # noqa: BLE001 - one broken provider must not break the list.
                log.error("provider_models_failed", provider=provider.name, error_type=type(exc).__name__)
                continue
            for model in served:
                if model.id not in seen:
                    seen.add(model.id)
                    listed.append((provider, model))
        return listed

    def native_provider(self, modality: str) -> Provider | None:
        """The best provider answering Pollinations-native URLs for a modality (model lists)."""
        for provider in self.providers:
            if modality in provider.modalities and any("native" in m.operations for m in provider.models()):
                return provider
        return None

    async def aclose(self) -> None:
        await asyncio.gather(*(p.aclose() for p in self.providers), return_exceptions=True)


def provider_classes() -> dict[str, type[Provider]]:
    """Provider kind → class, from every registered plugin."""
    plugin_manager()
    return dict(_classes)


def duplicate_provider_kinds() -> dict[str, str]:
    """Provider kind → which of the classes declaring it is used (one kind, one class)."""
    plugin_manager()
    return dict(_duplicates)


def incompatible_provider_classes() -> dict[str, str]:
    """Provider kind → why it was skipped, for classes written for another gateway version."""
    plugin_manager()
    return dict(_incompatible)


def current_registry() -> ProviderRegistry | None:
    """The registry last built in this process, without building one (admin pages, readiness)."""
    return _current


def environment_defaults() -> dict[str, str]:
    return {
        "POLLINATIONS_GEN_URL": settings.POLLINATIONS_GEN_URL,
        "POLLINATIONS_IMAGE_URL": settings.POLLINATIONS_IMAGE_URL,
        "POLLINATIONS_TEXT_URL": settings.POLLINATIONS_TEXT_URL,
        "POLLINATIONS_API_KEY": settings.POLLINATIONS_API_KEY,
    }


def builtin_provider_settings() -> list[ProviderSettings]:
    """The providers the installed plugins run on their own, before any admin row (by priority, then name)."""
    defaults = environment_defaults()
    instances = [instance for cls in provider_classes().values() for instance in cls.default_instances(defaults)]
    return sorted(instances, key=lambda instance: (instance.priority, instance.name))


def build_registry(configured: Iterable[ProviderSettings]) -> ProviderRegistry:
    """Instantiate every enabled provider: class defaults, overridden or extended by admin rows."""
    configured = tuple(configured)
    classes = provider_classes()
    defaults = environment_defaults()
    by_name: dict[str, ProviderSettings] = {}
    for cls in classes.values():
        for instance in cls.default_instances(defaults):
            by_name[instance.name] = instance
    for row in configured:
        default = by_name.get(row.name)
        if default is not None:
            # Admin rows override what they set and inherit the rest (e.g. the legacy host URLs).
            row = replace(
                row,
                base_url=row.base_url or default.base_url,
                credential=row.credential or default.credential,
                options={**default.options, **row.options},
            )
        by_name[row.name] = row
    instances, errors = [], []
    for instance in by_name.values():
        if not instance.enabled:
            continue
        if instance.credential_error:
            errors.append(f"{instance.name}: {instance.credential_error}")
            continue
        provider_class = classes.get(instance.kind)
        if provider_class is None:
            errors.append(f"{instance.name}: no installed plugin provides kind {instance.kind!r}")
            continue
        try:
            instances.append(provider_class(instance))
        except PluginConfigurationError as exc:
            errors.append(str(exc))
        except Exception as exc:  # noqa: BLE001 - one broken provider must not take the others down.
            errors.append(f"{instance.name}: {type(exc).__name__}")
    for error in errors:
        log.error("provider_skipped", reason=error)
    return ProviderRegistry(instances, errors, signature=configured)


_current: ProviderRegistry | None = None
_loaded_at = 0.0
_lock: asyncio.Lock | None = None


async def get_registry() -> ProviderRegistry:
    """The current registry, rebuilt from the admin configuration at most every ``RELOAD_SECONDS``."""
    global _current, _loaded_at, _lock
    now = time.monotonic()
    if _current is not None and now - _loaded_at < RELOAD_SECONDS:
        return _current
    if _lock is None:
        _lock = asyncio.Lock()
    async with _lock:
        if _current is None or time.monotonic() - _loaded_at >= RELOAD_SECONDS:
            from plugins.selectors import provider_settings_list

            try:
                configured = await provider_settings_list()
            except Exception as exc:
                if _current is None:
                    raise
                log.error("provider_config_reload_failed", error_type=type(exc).__name__)
                _loaded_at = time.monotonic()
                return _current
            if _current is None or tuple(configured) != _current.signature:
                previous, _current = _current, build_registry(configured)
                if previous is not None:
                    _retire(previous)
            _loaded_at = time.monotonic()
    return _current


# In-flight calls per provider object. A replaced registry's providers are closed when their last
# call has finished, never under it (a timer would cut answers still streaming).
_leases: dict[Provider, int] = {}
_retired: weakref.WeakSet[Provider] = weakref.WeakSet()
_closing: set[asyncio.Task] = set()


def lease(provider: Provider) -> None:
    """A call is about to use ``provider``'s connections (the dispatcher pairs it with :func:`release`)."""
    _leases[provider] = _leases.get(provider, 0) + 1


def release(provider: Provider) -> None:
    """A call on ``provider`` has finished; a retired provider is closed with its last call."""
    left = _leases.pop(provider, 1) - 1
    if left > 0:
        _leases[provider] = left
    elif provider in _retired:
        _close_soon(provider)


def in_flight(provider: Provider) -> int:
    return _leases.get(provider, 0)


def _retire(old: ProviderRegistry) -> None:
    for provider in old.providers:
        _retired.add(provider)
        if not _leases.get(provider):
            _close_soon(provider)


def _close_soon(provider: Provider) -> None:
    task = asyncio.ensure_future(provider.aclose())
    _closing.add(task)
    task.add_done_callback(_closing.discard)


def expire_registry() -> None:
    """Make the next request reload the configuration (after an admin edit in this process).

    Unlike :func:`reset_registry`, the registry in use is replaced at that reload, not dropped: its
    providers are retired and closed once their in-flight calls have finished.
    """
    global _loaded_at
    _loaded_at = 0.0


def reset_registry() -> None:
    """Forget the current registry (tests, and after admin edits in this process)."""
    global _current, _loaded_at, _lock
    _current, _loaded_at, _lock = None, 0.0, None


async def close_registry() -> None:
    """Close every provider's connections (server shutdown)."""
    current = _current
    reset_registry()
    if current is not None:
        await current.aclose()


async def close_loop_sessions() -> None:
    """Close the upstream sessions opened in the running event loop (a worker runs each job in its own)."""
    if _current is not None:
        await asyncio.gather(*(p.close_loop_sessions() for p in _current.providers), return_exceptions=True)
