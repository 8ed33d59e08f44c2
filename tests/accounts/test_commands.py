"""The operator CLI bootstraps a deployment non-interactively; keys are printed once, as JSON on request."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.keyauth import resolve_api_key
from accounts.keyformat import key_hash
from accounts.models import ApiKey, Membership, Organization

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_an_organisation_a_user_with_a_role_and_a_key_are_created_from_the_command_line(monkeypatch):
    monkeypatch.setenv("BOOT_PASSWORD", "a-Long-boot-passw0rd")
    org = json.loads(_run("create_organization", "--slug", "acme", "--name", "Acme", "--json"))
    assert org["slug"] == "acme"
    assert org["created"] is True
    user = json.loads(
        _run(
            "create_user",
            "--email",
            "Ops@Acme.io",
            "--org",
            "acme",
            "--role",
            "owner",
            "--password-env",
            "BOOT_PASSWORD",
            "--json",
        )
    )
    assert user == {"id": user["id"], "email": "ops@acme.io", "created": True, "organization": "acme", "role": "owner"}
    assert Membership.objects.get(user_id=user["id"]).role == "owner"
    key = json.loads(
        _run(
            "create_api_key",
            "--org",
            "acme",
            "--name",
            "ci",
            "--scopes",
            "text,image",
            "--limit",
            "requests_per_minute=50",
            "--created-by",
            "ops@acme.io",
            "--json",
        )
    )
    assert key["scopes"] == ["image", "text"]
    assert key["limits"] == {"requests_per_minute": 50}
    stored = ApiKey.objects.get(pk=key["id"])
    assert stored.key_hash == key_hash(key["key"])
    assert stored.created_by_id == user["id"]
    identity = async_to_sync(resolve_api_key)(key["key"])
    assert identity.organization_slug == "acme"
    assert not identity.allows_modality("audio")


def test_create_organization_is_idempotent_with_if_missing():
    _run("create_organization", "--slug", "acme")
    assert "Found" in _run("create_organization", "--slug", "acme", "--if-missing")
    with pytest.raises(CommandError, match="taken"):
        _run("create_organization", "--slug", "acme")
    assert Organization.objects.count() == 1


def test_bad_scopes_and_unknown_organisations_stop_with_a_clear_message():
    _run("create_organization", "--slug", "acme")
    with pytest.raises(CommandError, match="Scopes must be"):
        _run("create_api_key", "--org", "acme", "--name", "x", "--scopes", "video")
    with pytest.raises(CommandError, match="No organisation 'nope'"):
        _run("create_api_key", "--org", "nope", "--name", "x")
    assert not ApiKey.objects.exists()


def test_revoke_api_key_revokes_by_prefix():
    _run("create_organization", "--slug", "acme")
    key = json.loads(_run("create_api_key", "--org", "acme", "--name", "ci", "--json"))
    _run("revoke_api_key", "--org", "acme", "--prefix", key["prefix"])
    assert ApiKey.objects.get(pk=key["id"]).revoked_at is not None


def test_dev_bootstrap_creates_the_demo_organisation_and_writes_the_key_once(tmp_path, monkeypatch):
    from accounts.management.commands import dev_bootstrap

    credentials = tmp_path / "dev-credentials.txt"
    monkeypatch.setattr(dev_bootstrap, "CREDENTIALS_FILE", credentials)
    _run("dev_bootstrap")
    text = credentials.read_text()
    raw = text.split("demo API key (organisation demo, all modalities): ")[1].split()[0]
    assert async_to_sync(resolve_api_key)(raw).organization_slug == "demo"
    assert Membership.objects.get(organization__slug="demo", user__email="admin@example.com").role == "owner"
    _run("dev_bootstrap")
    assert credentials.read_text() == text
    assert ApiKey.objects.filter(organization__slug="demo", revoked_at=None).count() == 1
