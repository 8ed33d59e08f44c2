"""Plugins: the hook specifications, the plugin manager and the built-in providers.

What a plugin author imports comes from here, and only from here::

    from plugins import Provider, ProviderCall, UpstreamResponse, hookimpl

Everything else in the package (the manager, the registry, the admin) is the gateway's own and may
change between versions.
"""

from plugins.errors import PluginConfigurationError, PluginError, UpstreamError
from plugins.hookspecs import hookimpl
from plugins.types import (
    Caller,
    Collected,
    JobCallback,
    ModelInfo,
    Outcome,
    PaymentCollector,
    PriceRule,
    Provider,
    ProviderCall,
    ProviderSettings,
    UpstreamResponse,
    Usage,
)

__all__ = [
    "Caller",
    "Collected",
    "JobCallback",
    "ModelInfo",
    "Outcome",
    "PaymentCollector",
    "PluginConfigurationError",
    "PluginError",
    "PriceRule",
    "Provider",
    "ProviderCall",
    "ProviderSettings",
    "UpstreamError",
    "UpstreamResponse",
    "Usage",
    "hookimpl",
]
