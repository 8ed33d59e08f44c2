"""Done when: register, create an organisation, invite a colleague with a role, create a scoped key,
see it refused for a modality outside its scopes."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.core import mail
from rest_framework.test import APIClient

from accounts.keyauth import resolve_api_key

pytestmark = pytest.mark.django_db
PASSWORD = "a-Long-journey-passw0rd"  # pragma: allowlist secret


def _signed_in(email: str, token: str | None = None) -> APIClient:
    client = APIClient()
    body = {"email": email, "password": PASSWORD} | ({"invitation_token": token} if token else {})
    assert client.post("/api/auth/register", body, format="json").status_code == 201
    access = client.post("/api/auth/token", {"email": email, "password": PASSWORD}, format="json").json()["access"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def test_a_new_user_goes_from_registration_to_a_scoped_key():
    ada = _signed_in("ada@example.com")
    assert ada.post("/api/orgs", {"name": "Acme", "slug": "acme"}, format="json").status_code == 201

    invited = ada.post("/api/orgs/acme/invitations", {"email": "grace@example.com", "role": "developer"}, format="json")
    assert invited.status_code == 201
    token = mail.outbox[-1].body.split("\n\n")[2].strip()
    grace = _signed_in("grace@example.com", token)
    assert grace.get("/api/me").json()["organizations"] == [{"slug": "acme", "name": "Acme", "role": "developer"}]

    created = grace.post("/api/orgs/acme/keys", {"name": "bot", "scopes": ["text"]}, format="json")
    assert created.status_code == 201
    identity = async_to_sync(resolve_api_key)(created.json()["key"])
    assert identity.allows_modality("text")
    assert not identity.allows_modality("image")

    members = ada.get("/api/orgs/acme/members").json()
    assert {(m["email"], m["role"]) for m in members} == {
        ("ada@example.com", "owner"),
        ("grace@example.com", "developer"),
    }
