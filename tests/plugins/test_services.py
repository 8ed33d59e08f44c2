"""provider_config_save: validated, encrypted, and reloaded."""

from __future__ import annotations

import time

import pytest
from django.core.exceptions import ValidationError

from core.crypto import decrypt
from plugins import registry
from plugins.models import ProviderConfig
from plugins.services import provider_config_delete, provider_config_save

pytestmark = pytest.mark.django_db

SECRET = "sk-azure-0123456789"  # pragma: allowlist secret


def _config(**fields) -> ProviderConfig:
    return ProviderConfig(
        **{"name": "azure", "kind": "openai-compatible", "base_url": "https://azure.test/v1", **fields}
    )


def test_the_credential_is_stored_encrypted():
    config = provider_config_save(config=_config(), credential=SECRET)
    stored = ProviderConfig.objects.get(pk=config.pk).credential_encrypted
    assert SECRET not in stored
    assert decrypt(stored) == SECRET


def test_no_credential_keeps_the_stored_one_and_an_empty_one_clears_it():
    config = provider_config_save(config=_config(), credential=SECRET)
    config.priority = 5
    provider_config_save(config=config)
    assert decrypt(ProviderConfig.objects.get(pk=config.pk).credential_encrypted) == SECRET
    provider_config_save(config=config, credential="")
    assert ProviderConfig.objects.get(pk=config.pk).credential_encrypted == ""


def test_a_kind_no_plugin_provides_is_refused_naming_the_installed_ones():
    with pytest.raises(ValidationError) as caught:
        provider_config_save(config=_config(kind="nonexistent"))
    [message] = caught.value.message_dict["kind"]
    assert "'nonexistent'" in message and "openai-compatible" in message
    assert not ProviderConfig.objects.exists()


def test_an_invalid_configuration_is_not_saved():
    with pytest.raises(ValidationError):
        provider_config_save(config=_config(base_url="ftp://azure.test"))
    assert not ProviderConfig.objects.exists()


def test_saving_and_deleting_reload_the_registry_at_the_next_request_without_dropping_the_one_in_use():
    loaded = object()
    registry._current, registry._loaded_at = loaded, time.monotonic()  # type: ignore[assignment]
    config = provider_config_save(config=_config())
    assert registry.current_registry() is loaded, "in-flight calls keep their providers"
    assert registry._loaded_at == 0.0, "the next request reloads (and retires the old providers when done)"
    registry._loaded_at = time.monotonic()
    provider_config_delete(config=config)
    assert registry._loaded_at == 0.0
    registry.reset_registry()
