"""Every security event writes one append-only audit entry with who, when and from where."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts import services
from accounts.models import AuditEvent
from tests.accounts.factories import PASSWORD, api_key_create_for_tests, member_create_for_tests, user_create_for_tests

pytestmark = pytest.mark.django_db
IP = "203.0.113.5"


def _actions() -> list[str]:
    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


def test_sign_in_success_and_failure_are_audited_with_the_ip():
    user = user_create_for_tests()
    client = APIClient()
    wrong = {"email": user.email, "password": "wrong"}  # pragma: allowlist secret
    client.post("/api/auth/token", wrong, format="json", REMOTE_ADDR=IP)
    client.post("/api/auth/token", {"email": user.email, "password": PASSWORD}, format="json", REMOTE_ADDR=IP)
    failed, succeeded = AuditEvent.objects.order_by("id").filter(action__startswith="login")
    assert (failed.action, failed.actor_email, failed.ip_address) == ("login_failed", user.email, IP)
    assert (succeeded.action, succeeded.actor, succeeded.ip_address) == ("login_succeeded", user, IP)
    assert "wrong" not in str(failed.detail)


def test_key_created_rotated_and_revoked_are_audited_with_the_actor(owner, jwt_client):
    client = jwt_client(owner)
    key = client.post("/api/orgs/acme/keys", {"name": "ci", "scopes": ["text"]}, format="json", REMOTE_ADDR=IP).json()
    new = client.post(f"/api/orgs/acme/keys/{key['id']}/rotate", REMOTE_ADDR=IP).json()
    client.delete(f"/api/orgs/acme/keys/{new['id']}", REMOTE_ADDR=IP)
    events = AuditEvent.objects.filter(action__startswith="key_").order_by("id")
    assert [(e.action, e.actor, e.ip_address, e.organization.slug) for e in events] == [
        ("key_created", owner, IP, "acme"),
        ("key_rotated", owner, IP, "acme"),
        ("key_revoked", owner, IP, "acme"),
    ]
    assert events[1].detail["replaces"]["id"] == key["id"]
    assert key["key"] not in str(list(AuditEvent.objects.values()))


def test_role_change_and_invitation_acceptance_are_audited(org, owner):
    member = member_create_for_tests(organization=org, role="viewer")
    services.membership_role_change(membership=member.memberships.get(), role="admin", actor=owner, ip=IP)
    invitee = user_create_for_tests(email="new@example.com")
    _, token = services.invitation_create(organization=org, email=invitee.email, role="viewer", invited_by=owner)
    services.invitation_accept(token=token, user=invitee, ip=IP)
    role_changed = AuditEvent.objects.get(action="role_changed")
    assert role_changed.detail == {"email": member.email, "from": "viewer", "to": "admin"}
    assert AuditEvent.objects.filter(action="invitation_accepted", actor=invitee, ip_address=IP).exists()


def test_the_audit_log_is_append_only(org):
    event = services.audit_event_record(action="login_failed", actor_email="x@example.com")
    event.target = "tampered"
    with pytest.raises(TypeError, match="append-only"):
        event.save()
    with pytest.raises(TypeError, match="append-only"):
        event.delete()
    with pytest.raises(TypeError, match="append-only"):
        AuditEvent.objects.all().delete()
    with pytest.raises(TypeError, match="append-only"):
        AuditEvent.objects.update(target="x")


def test_owners_read_their_organisations_audit_log_and_admins_may_not(org, owner, user_with_role, jwt_client):
    api_key_create_for_tests(org=org, created_by=owner)
    events = jwt_client(owner).get("/api/orgs/acme/audit-events").json()
    assert "key_created" in [e["action"] for e in events]
    assert jwt_client(user_with_role("admin")).get("/api/orgs/acme/audit-events").status_code == 403


def test_an_organisations_audit_log_shows_none_of_another_organisations_events(org, other_org, owner, jwt_client):
    api_key_create_for_tests(org=other_org)
    actions = [e["target"] for e in jwt_client(owner).get("/api/orgs/acme/audit-events").json()]
    assert not any(t.startswith("api_key:") for t in actions)


def test_the_admin_shows_the_audit_log_read_only_and_keys_without_their_hash(admin_client, org):
    api_key, _ = api_key_create_for_tests(org=org)
    assert admin_client.get("/admin/accounts/auditevent/").status_code == 200
    event = AuditEvent.objects.first()
    page = admin_client.get(f"/admin/accounts/auditevent/{event.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    key_page = admin_client.get(f"/admin/accounts/apikey/{api_key.pk}/change/").content.decode()
    assert api_key.key_hash not in key_page


def test_the_admin_revoke_action_revokes_and_audits(admin_client, org):
    api_key, _ = api_key_create_for_tests(org=org)
    response = admin_client.post(
        "/admin/accounts/apikey/", {"action": "revoke", "_selected_action": [api_key.pk]}, follow=True
    )
    assert response.status_code == 200
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert AuditEvent.objects.filter(action="key_revoked", target=f"api_key:{api_key.pk}").exists()
