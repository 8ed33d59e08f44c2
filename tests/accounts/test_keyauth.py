"""Hot-path key resolution: identity, scopes, refusal of bad keys, cache-first behaviour."""

from __future__ import annotations

import datetime as dt

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import keyauth, services
from accounts.exceptions import ApplicationError, InvalidApiKey
from accounts.keyauth import KeyIdentity, extract_api_key, flush_last_used, resolve_api_key
from accounts.keyformat import key_generate
from accounts.models import ApiKey
from tests.accounts.factories import api_key_create_for_tests

resolve = async_to_sync(resolve_api_key)

pytestmark = pytest.mark.django_db


def test_a_valid_key_resolves_to_its_identity(org):
    api_key, raw = api_key_create_for_tests(
        org=org, scopes=["text"], allowed_models=["openai"], limits={"requests_per_minute": 50}
    )
    identity = resolve(raw)
    assert isinstance(identity, KeyIdentity)
    assert (identity.key_id, identity.organization_id, identity.organization_slug) == (api_key.pk, org.pk, "acme")
    assert identity.key_prefix == api_key.prefix
    assert raw.startswith(identity.key_prefix)
    assert identity.scopes == frozenset({"text"})
    assert dict(identity.limits) == {"requests_per_minute": 50}
    assert identity.allows_modality("text")
    assert not identity.allows_modality("image")
    assert identity.allows_model("openai")
    assert not identity.allows_model("flux")


def test_an_empty_model_allow_list_allows_any_model(org):
    _, raw = api_key_create_for_tests(org=org)
    assert resolve(raw).allows_model("anything")


def test_invalid_api_key_is_an_application_error_with_one_safe_message():
    assert issubclass(InvalidApiKey, ApplicationError)
    assert InvalidApiKey().message == "Invalid or missing API key."
    assert InvalidApiKey().status == 401


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "Bearer",
        "sk_abc",
        "mgw_short",
        key_generate()[:-1] + "!",
        "mgw_" + "a" * 38,
        key_generate()[:-1] + "é",
    ],
    ids=["none", "empty", "word", "other-service", "short", "bad-char", "bad-checksum", "not-ascii"],
)
def test_malformed_keys_are_refused_before_any_database_query(raw):
    with CaptureQueriesContext(connection) as queries, pytest.raises(InvalidApiKey):
        resolve(raw)
    assert len(queries) == 0


def test_a_key_one_character_off_a_cached_one_is_refused_before_any_database_query(org):
    _, raw = api_key_create_for_tests(org=org)
    resolve(raw)
    altered = raw[:-1] + ("a" if raw[-1] != "a" else "b")
    with CaptureQueriesContext(connection) as queries, pytest.raises(InvalidApiKey):
        resolve(altered)
    assert len(queries) == 0


def test_a_well_formed_but_unknown_key_is_refused_with_the_same_error():
    with pytest.raises(InvalidApiKey) as exc:
        resolve(key_generate())
    assert exc.value.message == "Invalid or missing API key."


def test_a_cached_resolution_makes_no_database_query(org):
    _, raw = api_key_create_for_tests(org=org)
    resolve(raw)
    with CaptureQueriesContext(connection) as queries:
        for _ in range(5):
            resolve(raw)
    assert len(queries) == 0


def test_the_shared_cache_answers_after_the_local_entry_is_dropped(org):
    _, raw = api_key_create_for_tests(org=org)
    resolve(raw)
    keyauth._local.clear()
    with CaptureQueriesContext(connection) as queries:
        resolve(raw)
    assert len(queries) == 0


def test_a_revoked_key_is_refused_at_once_in_the_same_process(org, django_capture_on_commit_callbacks):
    api_key, raw = api_key_create_for_tests(org=org)
    resolve(raw)
    with django_capture_on_commit_callbacks(execute=True):
        services.api_key_revoke(api_key=api_key)
    with pytest.raises(InvalidApiKey):
        resolve(raw)


def test_an_expired_key_is_refused_even_while_cached(org, monkeypatch):
    _, raw = api_key_create_for_tests(org=org, expires_at=timezone.now() + dt.timedelta(seconds=30))
    assert resolve(raw)
    real_time = keyauth.time.time
    monkeypatch.setattr(keyauth.time, "time", lambda: real_time() + 31)
    with pytest.raises(InvalidApiKey):
        resolve(raw)


def test_a_key_of_a_deactivated_organisation_is_refused(org, django_capture_on_commit_callbacks):
    _, raw = api_key_create_for_tests(org=org)
    resolve(raw)
    with django_capture_on_commit_callbacks(execute=True):
        services.organization_set_active(organization=org, active=False)
    with pytest.raises(InvalidApiKey):
        resolve(raw)


def test_a_rotated_key_stops_working_and_the_new_one_works(org, django_capture_on_commit_callbacks):
    api_key, old_raw = api_key_create_for_tests(org=org)
    resolve(old_raw)
    with django_capture_on_commit_callbacks(execute=True):
        new, new_raw = services.api_key_rotate(api_key=api_key)
    with pytest.raises(InvalidApiKey):
        resolve(old_raw)
    assert resolve(new_raw).key_id == new.pk


def test_last_used_is_kept_in_memory_and_flushed_in_one_batch(org):
    api_key, raw = api_key_create_for_tests(org=org)
    with CaptureQueriesContext(connection) as queries:
        resolve(raw)
        resolve(raw)
    assert not any("UPDATE" in q["sql"] for q in queries)
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at is None
    assert async_to_sync(flush_last_used)() == 1
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at is not None


@pytest.mark.parametrize(
    ("headers", "query", "expected"),
    [
        ({"authorization": "Bearer mgw_a"}, None, "mgw_a"),
        ({"authorization": "Bearer mgw_a", "x-api-key": "mgw_b"}, "mgw_c", "mgw_a"),
        ({"authorization": "Basic abc", "x-api-key": "mgw_b"}, "mgw_c", "mgw_b"),
        # The scheme is case-insensitive (RFC 9110 §11.1), as Pollinations' own key extraction treats it.
        ({"authorization": "bearer mgw_a"}, None, "mgw_a"),
        ({"authorization": "BEARER mgw_a", "x-api-key": "mgw_b"}, None, "mgw_a"),
        ({}, "mgw_c", "mgw_c"),
        ({}, None, None),
        ({"authorization": "Bearer "}, None, None),
    ],
)
def test_extract_api_key_prefers_the_header_then_x_api_key_then_the_query(headers, query, expected):
    assert extract_api_key(headers, query) == expected
