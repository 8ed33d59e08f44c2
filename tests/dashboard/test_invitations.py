"""Accepting an invitation in the dashboard, signed in or by creating the invited account."""

from __future__ import annotations

from django.test import Client

from accounts.models import Membership
from accounts.services import invitation_create
from tests.accounts.factories import user_create_for_tests

NEW_PASSWORD = "a-Long-new-passw0rd"  # pragma: allowlist secret


def _invite(org, inviter, email: str, role: str = "developer") -> str:
    _invitation, token = invitation_create(organization=org, email=email, role=role, invited_by=inviter)
    return token


def test_a_signed_in_invitee_accepts_and_lands_in_the_organisation(member, org):
    token = _invite(org, member("owner"), "new@example.com")
    invitee = user_create_for_tests(email="new@example.com")
    client = Client()
    client.force_login(invitee)
    assert "Accept the invitation" in client.get(f"/invitations/{token}/").content.decode()
    response = client.post(f"/invitations/{token}/")
    assert response.status_code == 302 and response["Location"] == "/"
    assert Membership.objects.get(user=invitee, organization=org).role == "developer"


def test_an_invitee_without_an_account_registers_even_when_sign_up_is_invite_only(member, org, settings):
    settings.REGISTRATION_MODE = "invite"
    token = _invite(org, member("admin"), "fresh@example.com", role="viewer")
    client = Client()
    response = client.post(f"/invitations/{token}/", {"full_name": "Fresh", "password": NEW_PASSWORD})
    assert response.status_code == 302
    membership = Membership.objects.select_related("user").get(organization=org, user__email="fresh@example.com")
    assert membership.role == "viewer"
    assert "Viewer" in client.get("/").content.decode()


def test_someone_signed_in_as_another_person_cannot_accept(member, org):
    token = _invite(org, member("owner"), "invited@example.com")
    client = Client()
    client.force_login(user_create_for_tests(email="someone-else@example.com"))
    page = client.get(f"/invitations/{token}/").content.decode()
    assert "Accept the invitation" not in page
    client.post(f"/invitations/{token}/")
    assert not Membership.objects.filter(organization=org, user__email="someone-else@example.com").exists()


def test_a_forged_invitation_link_is_not_found(db):
    response = Client().get("/invitations/not-a-token/")
    assert response.status_code == 404
    assert "Ask the organisation for a new invitation" in response.content.decode()
