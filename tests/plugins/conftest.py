"""Fixtures for plugin tests: a plugin manager with the fake plugin, restored afterwards, and a client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pluggy
import pytest
from django.core.cache import cache

from gateway.dispatch import reset_breakers
from plugins import manager
from plugins.registry import install_plugin_manager, plugin_manager, reset_registry
from tests.gateway.conftest import api_key, make_key, organization  # noqa: F401 - fixtures shared with the gateway
from tests.plugins import fake_plugin


@pytest.fixture
def restore_plugins() -> Iterator[None]:
    """Put back the process's plugin manager (and its record of broken plugins) after the test."""
    previous, broken = plugin_manager(), list(manager.BROKEN)
    yield
    manager.BROKEN[:] = broken
    install_plugin_manager(previous)


def build_pm(*plugins: object, load_entry_points: bool = False, blocked: tuple[str, ...] = ()) -> pluggy.PluginManager:
    """The built-ins plus ``plugins``, registered the way installed plugins are."""
    pm = manager.build_plugin_manager(load_entry_points=load_entry_points, blocked=blocked)
    for plugin in plugins:
        pm.register(plugin)
    return pm


@pytest.fixture
def fake_pm(restore_plugins) -> Iterator[pluggy.PluginManager]:
    """The built-ins and the fake plugin, installed for this process."""
    fake_plugin.OUTCOMES.clear()
    yield install_plugin_manager(build_pm(fake_plugin))
    fake_plugin.OUTCOMES.clear()


@pytest.fixture
async def http(api_key, default_upstream) -> AsyncIterator[httpx.AsyncClient]:  # noqa: F811 - the imported fixture
    """An authenticated client of the real ASGI application (plugins answer locally; /readyz finds the simulator)."""
    from mcp_site.asgi import application

    reset_registry()
    reset_breakers()
    cache.clear()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=30,
    ) as client:
        yield client
    reset_registry()
