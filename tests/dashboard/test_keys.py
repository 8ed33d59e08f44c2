"""API keys in the dashboard: listed with last use, created/rotated with the secret shown once, revoked; by role."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from accounts.keyformat import key_hash
from accounts.models import ApiKey, AuditEvent
from billing.models import Plan
from billing.services import subscription_create
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
    assert status == 200  # the form again, with the refusal on it (a 4xx page is a console error)
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


def _edit(client: Client, key: ApiKey, **fields):
    data = {"name": key.name, "scopes": key.scopes, **fields}
    return client.post(f"/keys/{key.pk}/edit/", data)


def test_a_developer_edits_a_key_which_keeps_its_secret(signed_in, org):
    api_key, secret = api_key_create_for_tests(org=org, name="prod")
    client = signed_in("developer")
    assert f'href="/keys/{api_key.pk}/edit/"' in client.get("/keys/").content.decode()
    form = client.get(f"/keys/{api_key.pk}/edit/").content.decode()
    assert 'value="prod"' in form and "Save key" in form
    response = _edit(
        client,
        api_key,
        name="production",
        scopes=["image"],
        allowed_models="flux\n",
        limit_requests_per_minute="30",
        expires_on="2999-01-31",
    )
    assert response.status_code == 302
    api_key.refresh_from_db()
    assert (api_key.name, api_key.scopes, api_key.allowed_models) == ("production", ["image"], ["flux"])
    assert api_key.limits == {"requests_per_minute": 30} and api_key.expires_at.date().isoformat() == "2999-01-31"
    assert api_key.key_hash == key_hash(secret)
    assert AuditEvent.objects.filter(action="key_updated", target=f"api_key:{api_key.pk}").exists()
    assert "is saved" in client.get("/keys/").content.decode()


def test_a_limit_looser_than_the_plan_is_refused_on_its_field(signed_in, org):
    subscription_create(organization=org, plan=Plan.objects.create(slug="team", name="Team", requests_per_minute=60))
    api_key, _ = api_key_create_for_tests(org=org, name="prod", limits={"requests_per_minute": 10})
    response = _edit(signed_in("admin"), api_key, limit_requests_per_minute="61")
    assert response.status_code == 200
    page = response.content.decode()
    field = page[page.index('id="id_limit_requests_per_minute"') :]
    assert field.index("may be at most 60, the organisation&#x27;s plan") < field.index("</p>")
    api_key.refresh_from_db()
    assert api_key.limits == {"requests_per_minute": 10}


def test_saving_an_edit_leaves_the_expiry_where_it_was(signed_in, org):
    expires = timezone.now() + dt.timedelta(days=3, hours=2)
    api_key, _ = api_key_create_for_tests(org=org, name="prod", expires_at=expires)
    _edit(signed_in("owner"), api_key, name="renamed", expires_on=timezone.localtime(expires).date().isoformat())
    api_key.refresh_from_db()
    assert api_key.name == "renamed" and api_key.expires_at == expires


def test_a_viewer_may_not_edit_a_key(signed_in, org):
    api_key, _ = api_key_create_for_tests(org=org, name="prod")
    client = signed_in("viewer")
    assert "/edit/" not in client.get("/keys/").content.decode()
    assert client.get(f"/keys/{api_key.pk}/edit/").status_code == 403
    assert _edit(client, api_key, name="mine").status_code == 403
    api_key.refresh_from_db()
    assert api_key.name == "prod"


def test_a_key_of_another_organisation_cannot_be_edited(signed_in):
    foreign, _ = api_key_create_for_tests(org=organization_create_for_tests(slug="globex"), name="theirs")
    response = _edit(signed_in("owner"), foreign, name="ours")
    assert response.status_code == 302
    foreign.refresh_from_db()
    assert foreign.name == "theirs"


@pytest.mark.parametrize("role", ["owner", "viewer"])
def test_the_keys_page_answers_in_a_bounded_number_of_queries(signed_in, org, role, django_assert_max_num_queries):
    for number in range(40):
        api_key_create_for_tests(org=org, name=f"key-{number}")
    client = signed_in(role)
    # Session, user, memberships, keys (their creators joined).
    with django_assert_max_num_queries(4):
        assert client.get("/keys/").status_code == 200
