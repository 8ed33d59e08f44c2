"""Registration (open or invite-only), invitations with expiring signed tokens, password reset."""

from __future__ import annotations

import datetime as dt
from smtplib import SMTPException

import pytest
from django.core import mail, signing
from rest_framework.test import APIClient

from accounts import services
from accounts.exceptions import Conflict, InvalidInput, InvitationInvalid, PermissionDenied, RegistrationClosed
from accounts.models import AuditEvent, Invitation, Membership, User
from tests.accounts.factories import PASSWORD, member_create_for_tests, user_create_for_tests

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a-Brand-new-passw0rd"  # pragma: allowlist secret


def test_invite_only_mode_refuses_registration_without_an_invitation(settings):
    settings.REGISTRATION_MODE = "invite"
    with pytest.raises(RegistrationClosed):
        services.user_register(email="a@example.com", password=PASSWORD)
    response = APIClient().post("/api/auth/register", {"email": "a@example.com", "password": PASSWORD}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "registration_closed"


def test_invite_only_mode_accepts_registration_with_an_invitation_to_that_email(settings, org, owner):
    settings.REGISTRATION_MODE = "invite"
    _, token = services.invitation_create(organization=org, email="New@Example.com", role="billing", invited_by=owner)
    user = services.user_register(email="new@example.com", password=PASSWORD, invitation_token=token)
    assert Membership.objects.get(user=user, organization=org).role == "billing"


def test_an_invitation_cannot_be_used_for_another_email_or_twice(org, owner):
    _, token = services.invitation_create(organization=org, email="a@example.com", role="viewer", invited_by=owner)
    with pytest.raises(InvalidInput):
        services.user_register(email="b@example.com", password=PASSWORD, invitation_token=token)
    other = user_create_for_tests(email="c@example.com")
    with pytest.raises(InvitationInvalid):
        services.invitation_accept(token=token, user=other)
    invitee = user_create_for_tests(email="a@example.com")
    services.invitation_accept(token=token, user=invitee)
    with pytest.raises(InvitationInvalid):
        services.invitation_accept(token=token, user=invitee)


def test_an_expired_or_tampered_invitation_is_refused(org, owner, settings):
    invitation, token = services.invitation_create(organization=org, email="a@example.com", role="viewer")
    invitee = user_create_for_tests(email="a@example.com")
    with pytest.raises(InvitationInvalid):
        services.invitation_accept(token=token[:-2] + "xx", user=invitee)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=invitation.created_at - dt.timedelta(seconds=1))
    with pytest.raises(InvitationInvalid):
        services.invitation_accept(token=token, user=invitee)
    forged = signing.dumps({"i": invitation.pk, "n": "0" * 32}, salt="accounts.invitation", compress=True)
    with pytest.raises(InvitationInvalid):
        services.invitation_accept(token=forged, user=invitee)


def test_a_failed_invitation_email_leaves_no_rows(org, owner, monkeypatch):
    def refuse(*args, **kwargs):
        raise SMTPException("mail server down")

    monkeypatch.setattr("accounts.services.organizations.send_mail", refuse)
    before = AuditEvent.objects.count()
    with pytest.raises(SMTPException):
        services.invitation_create(organization=org, email="a@example.com", role="viewer", invited_by=owner)
    assert not Invitation.objects.exists()
    assert AuditEvent.objects.count() == before


def test_an_admin_cannot_invite_an_owner_but_an_owner_can(org, owner, user_with_role):
    admin = user_with_role("admin")
    with pytest.raises(PermissionDenied):
        services.invitation_create(organization=org, email="a@example.com", role="owner", invited_by=admin)
    services.invitation_create(organization=org, email="a@example.com", role="owner", invited_by=owner)


def test_the_last_owner_cannot_be_demoted_or_removed(org, owner):
    membership = owner.memberships.get()
    with pytest.raises(Conflict):
        services.membership_role_change(membership=membership, role="admin", actor=owner)
    with pytest.raises(Conflict):
        services.membership_remove(membership=membership, actor=owner)


def test_inviting_an_existing_member_is_a_conflict(org, owner):
    member = member_create_for_tests(organization=org, role="viewer")
    with pytest.raises(Conflict):
        services.invitation_create(organization=org, email=member.email, role="admin", invited_by=owner)


def test_password_reset_e_mails_a_token_that_sets_a_new_password_once():
    user = user_create_for_tests()
    client = APIClient()
    assert client.post("/api/auth/password/reset", {"email": user.email}, format="json").status_code == 202
    body = mail.outbox[-1].body
    uid = body.split("uid: ")[1].split()[0]
    token = body.split("token: ")[1].split()[0]
    confirm = {"uid": uid, "token": token, "new_password": NEW_PASSWORD}
    assert client.post("/api/auth/password/reset/confirm", confirm, format="json").status_code == 204
    assert User.objects.get(pk=user.pk).check_password(NEW_PASSWORD)
    again = client.post("/api/auth/password/reset/confirm", confirm, format="json")
    assert again.status_code == 400
    assert again.json()["error"]["param"] == "token"


def test_password_reset_for_an_unknown_address_looks_the_same_and_sends_nothing():
    response = APIClient().post("/api/auth/password/reset", {"email": "nobody@example.com"}, format="json")
    assert response.status_code == 202
    assert mail.outbox == []


def test_a_weak_password_is_refused_naming_the_field():
    response = APIClient().post("/api/auth/register", {"email": "a@example.com", "password": "123"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "password"
    assert not User.objects.exists()
