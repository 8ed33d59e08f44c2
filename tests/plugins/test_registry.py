"""The provider registry: built-in defaults, admin rows overriding or adding providers, routing order."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from plugins.models import ProviderConfig
from plugins.registry import build_registry, get_registry, reset_registry
from plugins.services import provider_config_save
from plugins.types import ProviderSettings

GENERIC = "openai-compatible"


def _generic(name: str, *, priority: int = 100, enabled: bool = True, **kwargs) -> ProviderSettings:
    kwargs.setdefault("extra_models", {"m": "text"})
    return ProviderSettings(
        name=name, kind=GENERIC, base_url=f"http://{name}.test/v1", priority=priority, enabled=enabled, **kwargs
    )


def _names(routes) -> list[str]:
    return [route.provider.name for route in routes]


def test_the_builtins_exist_without_any_configuration():
    built = build_registry([])
    assert {"pollinations-text", "pollinations-image", "pollinations-audio"} <= {p.name for p in built.providers}
    assert _names(built.routes("openai", "chat")) == ["pollinations-text"]


def test_a_row_named_like_a_builtin_overrides_its_url_and_priority_and_keeps_the_rest():
    row = ProviderSettings(
        name="pollinations-text", kind="pollinations-text", base_url="http://mirror.test", priority=7
    )
    built = build_registry([row])
    [provider] = [p for p in built.providers if p.name == "pollinations-text"]
    assert provider.base_url == "http://mirror.test/v1"
    assert provider.settings.priority == 7
    # Inherited from the environment defaults: the legacy host URLs and the upstream key.
    assert provider.settings.options["image_url"]
    assert [p.name for p in built.providers].count("pollinations-text") == 1


def test_a_disabled_provider_is_not_routed():
    built = build_registry([_generic("off", enabled=False), _generic("on")])
    assert _names(built.routes("m", "chat")) == ["on"]


def test_disabling_a_builtin_by_row_removes_its_models():
    row = ProviderSettings(name="pollinations-text", kind="pollinations-text", base_url="", enabled=False)
    built = build_registry([row])
    assert built.routes("openai", "chat") == []
    assert not built.knows("openai")


def test_routes_follow_priority_then_name():
    built = build_registry(
        [_generic("b-slow", priority=50), _generic("z-first", priority=5), _generic("a-slow", priority=50)]
    )
    assert _names(built.routes("m", "chat")) == ["z-first", "a-slow", "b-slow"]


def test_an_admin_provider_with_a_better_priority_is_tried_before_the_builtin():
    built = build_registry([_generic("azure", priority=1, extra_models={"openai": "text"})])
    assert _names(built.routes("openai", "chat")) == ["azure", "pollinations-text"]


def test_an_alias_routes_to_the_model_it_names_once():
    built = build_registry([_generic("p", extra_models={"a": "text", "b": "text"}, model_aliases={"fast": "a"})])
    [route] = built.routes("fast", "chat")
    assert route.model.id == "a"


def test_an_unknown_kind_is_a_configuration_error_not_a_crash():
    built = build_registry([ProviderSettings(name="ghost", kind="uninstalled", base_url="http://x.test")])
    assert "ghost: no installed plugin provides kind 'uninstalled'" in built.errors


@pytest.mark.django_db(transaction=True)
async def test_a_saved_row_reaches_the_registry_with_its_credential_decrypted():
    config = ProviderConfig(
        name="azure", kind=GENERIC, base_url="https://azure.test/v1", priority=3, served_models={"gpt-4o": "text"}
    )
    await sync_to_async(provider_config_save)(config=config, credential="sk-azure-secret")  # pragma: allowlist secret
    reset_registry()
    registry = await get_registry()
    [provider] = [p for p in registry.providers if p.name == "azure"]
    assert provider.settings.credential == "sk-azure-secret"  # pragma: allowlist secret
    assert _names(registry.routes("gpt-4o", "chat")) == ["azure"]


@pytest.mark.django_db(transaction=True)
async def test_a_credential_no_key_decrypts_skips_the_provider_loudly_instead_of_blanking_it(settings):
    config = ProviderConfig(
        name="azure", kind=GENERIC, base_url="https://azure.test/v1", served_models={"gpt-4o": "text"}
    )
    await sync_to_async(provider_config_save)(config=config, credential="sk-azure-secret")  # pragma: allowlist secret
    settings.FIELD_ENCRYPTION_KEY = "another-key-" + "a" * 32  # as after a restart with a different key
    reset_registry()
    registry = await get_registry()
    assert "azure" not in {p.name for p in registry.providers}
    assert any(error.startswith("azure: ") and "FIELD_ENCRYPTION_KEY" in error for error in registry.errors)
    assert registry.routes("gpt-4o", "chat") == []


def test_a_provider_settings_credential_error_keeps_it_out_of_the_registry():
    built = build_registry([_generic("p", credential_error="cannot be decrypted")])
    assert "p" not in {p.name for p in built.providers} and "p: cannot be decrypted" in built.errors


def test_a_provider_is_tried_once_even_when_several_of_its_models_answer_to_a_name():
    built = build_registry(
        [_generic("p", extra_models={"a": "text", "b": "text"}, model_aliases={"fast": "upstream-x"})]
    )
    assert _names(built.routes("fast", "chat")) == ["p"]


def test_an_alias_of_a_served_id_does_not_add_a_second_route():
    built = build_registry([_generic("p", extra_models={"gpt-4o": "text"}, model_aliases={"gpt-4o": "gpt-4o-2024"})])
    assert _names(built.routes("gpt-4o", "chat")) == ["p"]


@pytest.mark.django_db(transaction=True)
async def test_a_failed_reload_keeps_serving_the_last_good_registry(monkeypatch):
    reset_registry()
    loaded = await get_registry()

    async def database_down():
        raise ConnectionError("database unreachable")

    monkeypatch.setattr("plugins.selectors.provider_settings_list", database_down)
    monkeypatch.setattr("plugins.registry._loaded_at", 0.0)  # the reload interval has passed
    assert await get_registry() is loaded
    reset_registry()
    with pytest.raises(ConnectionError):
        await get_registry()
