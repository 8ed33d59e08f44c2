"""The ``plugins`` readiness check: broken plugins are detail, no provider at all is unready."""

from __future__ import annotations

import pytest

from plugins import manager
from plugins.manager import BrokenPlugin
from plugins.registry import get_registry, install_plugin_manager, reset_registry
from tests.plugins.conftest import build_pm

pytestmark = pytest.mark.django_db(transaction=True)


async def test_readyz_lists_broken_plugins_and_stays_ready(fake_pm, http):
    manager.BROKEN.append(BrokenPlugin("shaky", "ImportError", "ImportError: /secret/path/shaky.py"))
    await get_registry()
    response = await http.get("/readyz")
    assert response.status_code == 200, response.text
    check = response.json()["checks"]["plugins"]
    assert check["ok"] is True
    assert check["broken"] == [{"name": "shaky", "error": "ImportError"}]
    assert "/secret/path" not in response.text, "only the error type leaves the admin"
    assert "fake" in check["providers"]


async def test_readyz_lists_provider_configuration_errors_as_detail(fake_pm, http, settings):
    settings.POLLINATIONS_GEN_URL = ""  # the Pollinations defaults now miss their required base_url
    reset_registry()
    await get_registry()
    check = (await http.get("/readyz")).json()["checks"]["plugins"]
    assert check["ok"] is True
    assert any("pollinations-text" in error and "base_url" in error for error in check["configuration_errors"])


async def test_readyz_is_unready_when_no_provider_is_available(restore_plugins, http):
    builtins = tuple(manager.BUILTIN_PLUGINS)
    install_plugin_manager(build_pm(blocked=builtins))
    await get_registry()
    response = await http.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["plugins"]
    assert body["checks"]["plugins"]["providers"] == []


async def test_readyz_does_not_load_the_registry_itself(fake_pm, http):
    reset_registry()
    check = (await http.get("/readyz")).json()["checks"]["plugins"]
    assert check["ok"] is True
    assert check["registry"].startswith("not loaded yet")
