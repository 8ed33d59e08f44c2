"""ProviderConfig validation: what an operator can save."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from plugins.models import ProviderConfig

pytestmark = pytest.mark.django_db


def _config(**fields) -> ProviderConfig:
    return ProviderConfig(
        **{"name": "azure", "kind": "openai-compatible", "base_url": "https://azure.test/v1", **fields}
    )


def _errors(config: ProviderConfig) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        config.full_clean()
    return caught.value.message_dict


def test_a_complete_configuration_is_valid():
    _config(model_aliases={"fast": "gpt-4o-mini"}, served_models={"gpt-4o-mini": "text"}).full_clean()


@pytest.mark.parametrize("aliases", [["gpt-4o"], {"a": 1}, "gpt-4o", {"a": {"b": "c"}}])
def test_model_aliases_must_be_an_object_of_strings(aliases):
    assert "model_aliases" in _errors(_config(model_aliases=aliases))


def test_emptied_json_fields_are_saved_as_empty_objects():
    config = _config(model_aliases=None, served_models=None)
    config.full_clean()
    config.save()
    assert (config.model_aliases, config.served_models) == ({}, {})


@pytest.mark.parametrize("served", [["gpt-4o"], {"gpt-4o": 1}, {"gpt-4o": ["text"]}])
def test_served_models_must_be_an_object_of_strings(served):
    assert "served_models" in _errors(_config(served_models=served))


@pytest.mark.parametrize("options", [["prefix"], "prefix", 3])
def test_options_must_be_an_object(options):
    assert "options" in _errors(_config(options=options))


def test_an_unknown_modality_is_refused_naming_the_choices():
    [message] = _errors(_config(served_models={"m": "video"}))["served_models"]
    assert "'video'" in message and "text, image, audio" in message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("connect_timeout", -1),
        ("connect_timeout", 0),
        ("read_timeout", -5),
        ("connect_timeout", 61),
        ("read_timeout", 3601),
    ],
)
def test_timeouts_must_be_positive_and_bounded(field, value):
    assert field in _errors(_config(**{field: value}))


def test_priority_cannot_be_negative():
    assert "priority" in _errors(_config(priority=-1))


@pytest.mark.parametrize("url", ["ftp://files.test/v1", "file:///etc/passwd", "not a url"])
def test_the_base_url_must_be_http_or_https(url):
    assert "base_url" in _errors(_config(base_url=url))


def test_the_name_is_a_slug():
    assert "name" in _errors(_config(name="Azure East US"))
