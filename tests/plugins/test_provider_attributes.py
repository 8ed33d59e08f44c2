"""One test per attribute a provider class declares: version range, required settings, default options."""

from __future__ import annotations

import tomllib
from types import MappingProxyType

import pytest
from asgiref.sync import sync_to_async
from structlog.testing import capture_logs

from plugins import registry
from plugins.errors import PluginConfigurationError
from plugins.hookspecs import hookimpl
from plugins.models import ProviderConfig
from plugins.registry import build_registry, install_plugin_manager, provider_classes
from plugins.services import provider_config_save
from plugins.types import ProviderSettings
from tests.conftest import ROOT
from tests.plugins.conftest import build_pm
from tests.plugins.fake_plugin import FakeProvider


def _plugin_with(cls: type) -> object:
    class Plugin:
        @hookimpl
        def mcp_provider_classes(self):
            return [cls]

    return Plugin()


def _install(cls: type) -> list[dict]:
    with capture_logs() as logs:
        install_plugin_manager(build_pm(_plugin_with(cls)))
    return logs


def test_gateway_version_is_the_projects():
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"] == registry.GATEWAY_VERSION


def test_a_provider_needing_a_newer_gateway_is_logged_and_skipped(restore_plugins):
    class Future(FakeProvider):
        kind = "future"
        min_gateway_version = "99.0"

    logs = _install(Future)
    assert "future" not in provider_classes()
    assert "99.0" in registry.incompatible_provider_classes()["future"]
    assert any(e["event"] == "provider_incompatible" and e["kind"] == "future" for e in logs)


def test_a_provider_written_for_older_gateways_only_is_logged_and_skipped(restore_plugins):
    class Past(FakeProvider):
        kind = "past"
        min_gateway_version = "0.0.1"
        max_gateway_version = "0.0.9"

    _install(Past)
    assert "past" not in provider_classes()
    assert "past" in registry.incompatible_provider_classes()


def test_a_version_range_is_inclusive_at_both_ends(restore_plugins):
    class Exact(FakeProvider):
        kind = "exact"
        min_gateway_version = registry.GATEWAY_VERSION
        max_gateway_version = "0.1"  # reads as 0.1.0

    _install(Exact)
    assert provider_classes()["exact"] is Exact
    assert not Exact.supports_gateway("0.1.1")


def test_a_missing_required_setting_is_reported_naming_it():
    settings = ProviderSettings(name="fake-b", kind="fake", base_url="", options={"greeting": ""})
    with pytest.raises(PluginConfigurationError, match="'fake-b' \\(fake\\) needs greeting"):
        FakeProvider.validate(settings)


def test_a_missing_required_setting_skips_only_that_instance_in_the_registry(fake_pm):
    broken = ProviderSettings(name="fake-b", kind="fake", base_url="", options={"greeting": ""})
    built = build_registry([broken])
    assert "fake-b" not in {p.name for p in built.providers}
    assert "fake" in {p.name for p in built.providers}
    assert any("needs greeting" in error for error in built.errors)


def test_default_settings_fill_what_the_instance_leaves_unset():
    validated = FakeProvider.validate(
        ProviderSettings(name="fake", kind="fake", base_url="", options={"punctuation": "?"})
    )
    assert dict(validated.options) == {"greeting": "hello", "punctuation": "?"}


def test_validated_settings_are_a_new_frozen_copy():
    original = ProviderSettings(name="fake", kind="fake", base_url="", options={}, model_aliases={"a": "fake-1"})
    validated = FakeProvider.validate(original)
    assert validated is not original and original.options == {}
    assert isinstance(validated.options, MappingProxyType)
    with pytest.raises(TypeError):
        validated.options["greeting"] = "changed"  # type: ignore[index]
    with pytest.raises(TypeError):
        validated.model_aliases["b"] = "x"  # type: ignore[index]
    # Class-level defaults are never shared mutable state.
    assert FakeProvider.default_options == {"greeting": "hello", "punctuation": "!"}


@pytest.mark.django_db(transaction=True)
async def test_an_admin_row_sets_options_over_the_defaults_and_reaches_the_provider(fake_pm, http):
    row = ProviderConfig(name="fake", kind="fake", options={"greeting": "bonjour"})
    await sync_to_async(provider_config_save)(config=row)
    body = {"model": "fake-1", "messages": [{"role": "user", "content": "Hi"}]}
    answer = (await http.post("/v1/chat/completions", json=body)).json()
    assert answer["choices"][0]["message"]["content"] == "bonjour!"
