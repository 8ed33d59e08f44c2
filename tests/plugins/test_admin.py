"""The provider admin: write-only credentials, validation, installed plugins, circuit breakers."""

from __future__ import annotations

import asyncio
import re

import pytest
from django.urls import reverse

from core.crypto import decrypt
from gateway.dispatch import breaker_states, reset_breakers
from plugins import manager
from plugins.manager import BrokenPlugin
from plugins.models import ProviderConfig
from plugins.services import provider_config_save
from tests.fixtures.breakers import trip_breaker

pytestmark = pytest.mark.django_db

SECRET = "sk-azure-0123456789abcdef"  # pragma: allowlist secret
ADD_URL = reverse("admin:plugins_providerconfig_add")


def _form(**fields) -> dict[str, str]:
    return {
        "name": "azure",
        "kind": "openai-compatible",
        "enabled": "on",
        "priority": "10",
        "base_url": "https://azure.test/v1",
        "connect_timeout": "5",
        "read_timeout": "300",
        "model_aliases": "{}",
        "served_models": '{"gpt-4o": "text"}',
        "options": "{}",
        "credential": "",
        **fields,
    }


def _change_url(config: ProviderConfig) -> str:
    return reverse("admin:plugins_providerconfig_change", args=[config.pk])


def test_a_new_provider_shows_no_credential_set(admin_client):
    page = admin_client.get(ADD_URL).content.decode()
    assert 'type="password"' in page
    assert re.search(r'field-credential_state.*?<div class="readonly">not set</div>', page, re.S)


def test_adding_a_provider_encrypts_its_credential(admin_client):
    response = admin_client.post(ADD_URL, _form(credential=SECRET))
    assert response.status_code == 302, response.content.decode()
    config = ProviderConfig.objects.get(name="azure")
    assert SECRET not in config.credential_encrypted
    assert decrypt(config.credential_encrypted) == SECRET


def test_the_change_form_says_set_but_never_shows_the_credential(admin_client):
    config = provider_config_save(config=ProviderConfig(name="azure", kind="openai-compatible"), credential=SECRET)
    page = admin_client.get(_change_url(config)).content.decode()
    assert SECRET not in page
    assert config.credential_encrypted not in page
    assert re.search(r'field-credential_state.*?<div class="readonly">set</div>', page, re.S)
    listing = admin_client.get(reverse("admin:plugins_providerconfig_changelist")).content.decode()
    assert SECRET not in listing and config.credential_encrypted not in listing


def test_leaving_the_credential_empty_keeps_it_and_clearing_removes_it(admin_client):
    config = provider_config_save(config=ProviderConfig(name="azure", kind="openai-compatible"), credential=SECRET)
    assert admin_client.post(_change_url(config), _form(priority="3")).status_code == 302
    config.refresh_from_db()
    assert (config.priority, decrypt(config.credential_encrypted)) == (3, SECRET)
    admin_client.post(_change_url(config), _form(clear_credential="on"))
    config.refresh_from_db()
    assert config.credential_encrypted == ""


def test_a_kind_no_plugin_provides_is_refused_by_the_form(admin_client):
    response = admin_client.post(ADD_URL, _form(kind="uninstalled"))
    assert response.status_code == 200
    assert "uninstalled is not one of the available choices" in response.content.decode()
    assert not ProviderConfig.objects.exists()


def test_a_non_http_base_url_is_refused_by_the_form(admin_client):
    response = admin_client.post(ADD_URL, _form(base_url="ftp://azure.test/v1"))
    assert response.status_code == 200
    assert "Use an http:// or https:// URL." in response.content.decode()


def test_a_bad_json_shape_is_refused_by_the_form(admin_client):
    response = admin_client.post(ADD_URL, _form(served_models='{"gpt-4o": "video"}'))
    assert "Unknown modality &#x27;video&#x27;" in response.content.decode()


def test_the_list_shows_each_providers_circuit_state(admin_client):
    provider_config_save(config=ProviderConfig(name="azure", kind="openai-compatible", base_url="https://a.test"))
    reset_breakers()
    asyncio.run(trip_breaker("azure"))
    listing = admin_client.get(reverse("admin:plugins_providerconfig_changelist")).content.decode()
    assert "opened" in listing
    reset_breakers()


def test_the_reset_action_closes_every_circuit(admin_client):
    config = provider_config_save(config=ProviderConfig(name="azure", kind="openai-compatible"))
    reset_breakers()
    asyncio.run(trip_breaker("azure"))
    assert breaker_states() == {"azure": "opened"}
    response = admin_client.post(
        reverse("admin:plugins_providerconfig_changelist"),
        {"action": "reset_circuit_breakers", "_selected_action": [config.pk]},
    )
    assert response.status_code == 302
    assert breaker_states() == {}


def test_the_installed_plugins_page_lists_plugins_with_package_version_hooks_and_state(admin_client, restore_plugins):
    manager.BROKEN.append(BrokenPlugin("shaky", "ImportError", "ImportError: no module named shaky_dep"))
    url = reverse("admin:plugins_installed_plugins")
    page = admin_client.get(url).content.decode()
    assert "plugins.builtin.pollinations" in page
    assert "mcp-gateway" in page and "built-in" in page
    assert "mcp_provider_classes" in page
    assert "shaky" in page and "no module named shaky_dep" in page
    assert url in admin_client.get(reverse("admin:plugins_providerconfig_changelist")).content.decode()


def test_the_installed_plugins_page_needs_staff(client):
    response = client.get(reverse("admin:plugins_installed_plugins"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_a_refused_form_does_not_echo_the_typed_credential(admin_client):
    response = admin_client.post(ADD_URL, _form(credential=SECRET, base_url="ftp://azure.test"))
    assert response.status_code == 200
    assert SECRET not in response.content.decode()


def test_the_installed_plugins_page_lists_configured_providers_and_their_errors(admin_client):
    ProviderConfig.objects.create(name="azure", kind="openai-compatible", base_url="")  # needs a base URL
    page = admin_client.get(reverse("admin:plugins_installed_plugins")).content.decode()
    assert "pollinations-text" in page and "openai-large" in page
    assert "needs base_url" in page


def test_a_kind_whose_plugin_was_removed_stays_editable_but_cannot_be_saved(admin_client):
    config = ProviderConfig.objects.create(name="old", kind="removed-kind", base_url="https://old.test")
    assert admin_client.get(_change_url(config)).status_code == 200
    response = admin_client.post(_change_url(config), _form(name="old", kind="removed-kind"))
    assert response.status_code == 200
    assert "No installed plugin provides &#x27;removed-kind&#x27;" in response.content.decode()


def _builtin_rows(page: str) -> dict[str, str]:
    rows = re.findall(r'<tr class="builtin-provider">(.*?)</tr>', page, re.S)
    return {re.search(r"<td>(.*?)</td>", row).group(1): re.sub(r"<[^>]+>", " ", row) for row in rows}


def test_the_provider_page_lists_the_builtin_providers_with_kind_and_state(admin_client):
    page = admin_client.get(reverse("admin:plugins_providerconfig_changelist")).content.decode()
    builtins = _builtin_rows(page)
    assert {"pollinations-text", "pollinations-image", "pollinations-audio"} <= set(builtins)
    assert all(" enabled " in row and "built-in defaults" in row for row in builtins.values())
    assert 'href="/admin/plugins/providerconfig/add/?name=pollinations-image&amp;kind=pollinations-image"' in page


def test_a_builtin_disabled_by_its_row_is_listed_as_disabled_and_overridden(admin_client):
    row = provider_config_save(config=ProviderConfig(name="pollinations-text", kind="pollinations-text", enabled=False))
    page = admin_client.get(reverse("admin:plugins_providerconfig_changelist")).content.decode()
    listed = _builtin_rows(page)["pollinations-text"]
    assert " disabled " in listed and "overridden by its row" in listed
    assert f'href="{_change_url(row)}">overridden by its row' in page
