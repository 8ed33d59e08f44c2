"""API keys in the dashboard: listed with last use, created/rotated with the secret shown once, revoked; by role."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.keyformat import key_hash
from accounts.models import ApiKey
from tests.accounts.factories import api_key_create_for_tests, organization_create_for_tests

SECRET = re.compile(r'value="(mgw_[A-Za-z0-9]+)"')


def _create(client: Client, **fields) -> tuple[int, str]:
    data = {"name": "ci", "scopes": ["text", "image"], **fields}
    response = client.post("/keys/new/", data)
    return response.status_code, response.content.decode()


def test_a_developer_creates_a_key_and_sees_its_secret_once(signed_in, org):
    client = signed_in("developer")
    status, page = _create(
        client,
        allowed_models="openai\nflux\n",
        limit_requests_per_minute="30",
        expires_on="2999-01-31",
    )
    assert status == 200
    [secret] = SECRET.findall(page)
    key = ApiKey.objects.get(organization=org, name="ci")
    assert key.key_hash == key_hash(secret)
    assert key.scopes == ["image", "text"] and key.allowed_models == ["flux", "openai"]
    assert key.limits == {"requests_per_minute": 30}
    assert key.expires_at.date().isoformat() == "2999-01-31"
    listing = client.get("/keys/").content.decode()
    assert key.prefix in listing and secret not in listing
    assert "requests_per_minute=30" in listing


def test_the_secret_page_is_never_cached(signed_in):
    response = signed_in("admin").post("/keys/new/", {"name": "ci", "scopes": ["text"]})
    assert "no-store" in response["Cache-Control"]


def test_a_refusal_of_the_service_is_shown_on_the_field_it_names(signed_in, org):
    client = signed_in("developer")
    _create(client)
    status, page = _create(client)
    assert status == 400
    assert "An active key named &#x27;ci&#x27; already exists" in page
    assert ApiKey.objects.filter(organization=org, name="ci").count() == 1


def test_a_viewer_sees_the_keys_but_is_offered_no_change_and_refused_one(signed_in, org):
    api_key, _ = api_key_create_for_tests(org=org, name="prod")
    client = signed_in("viewer")
    page = client.get("/keys/").content.decode()
    assert "prod" in page
    assert "Create a key" not in page and "Revoke" not in page and "Rotate" not in page
    assert _create(client)[0] == 403
    assert client.post(f"/keys/{api_key.pk}/revoke/").status_code == 403
    assert client.post(f"/keys/{api_key.pk}/rotate/").status_code == 403
    api_key.refresh_from_db()
    assert api_key.revoked_at is None
    assert not ApiKey.objects.filter(name="ci").exists()


def test_a_billing_member_cannot_open_the_keys(signed_in):
    response = signed_in("billing").get("/keys/")
    assert response.status_code == 403
    assert "list API keys" in response.content.decode()


def test_rotating_shows_a_new_secret_and_revokes_the_old_key(signed_in, org):
    old, old_secret = api_key_create_for_tests(org=org, name="prod", limits={"requests_per_day": 100})
    response = signed_in("owner").post(f"/keys/{old.pk}/rotate/")
    [secret] = SECRET.findall(response.content.decode())
    old.refresh_from_db()
    assert old.revoked_at is not None and secret != old_secret
    new = ApiKey.objects.get(organization=org, name="prod", revoked_at=None)
    assert new.key_hash == key_hash(secret) and new.limits == {"requests_per_day": 100}


def test_revoking_a_key_ends_it(signed_in, org):
    api_key, _ = api_key_create_for_tests(org=org, name="prod")
    client = signed_in("admin")
    response = client.post(f"/keys/{api_key.pk}/revoke/", follow=True)
    assert "is revoked" in response.content.decode()
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None


def test_a_key_of_another_organisation_cannot_be_revoked_or_rotated(signed_in):
    foreign, _ = api_key_create_for_tests(org=organization_create_for_tests(slug="globex"), name="theirs")
    client = signed_in("owner")
    assert "No such API key" in client.post(f"/keys/{foreign.pk}/revoke/", follow=True).content.decode()
    client.post(f"/keys/{foreign.pk}/rotate/")
    foreign.refresh_from_db()
    assert foreign.revoked_at is None


@pytest.mark.parametrize("role", ["owner", "viewer"])
def test_the_keys_page_answers_in_a_bounded_number_of_queries(signed_in, org, role, django_assert_max_num_queries):
    for number in range(40):
        api_key_create_for_tests(org=org, name=f"key-{number}")
    client = signed_in(role)
    # Session, user, memberships, keys (their creators joined).
    with django_assert_max_num_queries(4):
        assert client.get("/keys/").status_code == 200
