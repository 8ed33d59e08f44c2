"""Members, invitations and the audit log in the dashboard; the account services decide who may change what."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from accounts.models import Invitation, Membership


def test_an_admin_invites_someone_and_gets_the_link(signed_in, org):
    client = signed_in("admin")
    response = client.post("/members/invite/", {"email": "new@example.com", "role": "viewer"}, follow=True)
    page = response.content.decode()
    [link] = re.findall(r"http://testserver/invitations/[^/\s<]+/", page)
    assert Invitation.objects.get(organization=org, email="new@example.com").role == "viewer"
    assert len(mail.outbox) == 1
    assert "new@example.com" in client.get("/members/").content.decode()
    assert client.get(link.removeprefix("http://testserver")).status_code == 200


def test_an_admin_may_not_invite_an_owner(signed_in, org):
    response = signed_in("admin").post("/members/invite/", {"email": "boss@example.com", "role": "owner"})
    assert response.status_code == 200 and 'role="alert"' in response.content.decode()
    assert not Invitation.objects.filter(email="boss@example.com").exists()


def test_an_owner_changes_a_role_and_removes_a_member(signed_in, member, org):
    developer = member("developer")
    membership = Membership.objects.get(user=developer, organization=org)
    client = signed_in("owner")
    client.post(f"/members/{membership.pk}/role/", {"role": "viewer"})
    membership.refresh_from_db()
    assert membership.role == "viewer"
    client.post(f"/members/{membership.pk}/remove/")
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_an_admin_cannot_demote_an_owner(signed_in, member, org):
    owner_membership = Membership.objects.get(user=member("owner"), organization=org)
    response = signed_in("admin").post(f"/members/{owner_membership.pk}/role/", {"role": "viewer"}, follow=True)
    owner_membership.refresh_from_db()
    assert owner_membership.role == "owner"
    assert 'class="message error"' in response.content.decode()


def test_a_developer_sees_members_but_is_offered_no_change_and_refused_one(signed_in, member, org):
    other = Membership.objects.get(user=member("viewer"), organization=org)
    client = signed_in("developer")
    page = client.get("/members/").content.decode()
    assert other.user.email in page and "Send invitation" not in page and "Remove" not in page
    assert client.post(f"/members/{other.pk}/remove/").status_code == 403
    assert client.post("/members/invite/", {"email": "x@example.com", "role": "viewer"}).status_code == 403
    assert Membership.objects.filter(pk=other.pk).exists()


def test_revoking_an_invitation(signed_in, org):
    client = signed_in("owner")
    client.post("/members/invite/", {"email": "later@example.com", "role": "developer"})
    invitation = Invitation.objects.get(email="later@example.com")
    client.post(f"/members/invitations/{invitation.pk}/revoke/")
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None


def test_only_owners_read_the_audit_log(signed_in, org):
    owner = signed_in("owner")
    owner.post("/members/invite/", {"email": "audited@example.com", "role": "viewer"})
    page = owner.get("/audit/").content.decode()
    assert "<td>Invitation Created</td>" in page
    assert ">Audit log</a>" in owner.get("/").content.decode()
    admin = signed_in("admin")
    assert admin.get("/audit/").status_code == 403
    assert ">Audit log</a>" not in admin.get("/").content.decode()


@pytest.mark.parametrize("role", ["owner", "viewer"])
def test_the_members_page_answers_in_a_bounded_number_of_queries(
    signed_in, member, role, django_assert_max_num_queries
):
    for _ in range(15):
        member("developer")
    client = signed_in(role)
    with django_assert_max_num_queries(5):
        assert client.get("/members/").status_code == 200
