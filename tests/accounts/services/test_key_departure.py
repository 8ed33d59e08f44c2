"""A user who is deactivated, deleted or removed from an organisation loses the personal keys they
created (each revocation audited); organisation (service) keys and operator keys stay."""

from __future__ import annotations

import pytest

from accounts import services
from accounts.models import ApiKey, AuditEvent
from accounts.roles import ADMIN
from tests.accounts.factories import member_create_for_tests, organization_create_for_tests

pytestmark = pytest.mark.django_db


@pytest.fixture
def keys():
    organization = organization_create_for_tests()
    other = organization_create_for_tests()
    creator = member_create_for_tests(organization=organization, role=ADMIN)
    services.membership_add(organization=other, user=creator, role=ADMIN)

    def key(org, name: str, **kwargs) -> ApiKey:
        return services.api_key_create(organization=org, name=name, scopes=["text"], **kwargs)[0]

    return {
        "creator": creator,
        "organization": organization,
        "personal": key(organization, "personal", created_by=creator),
        "service": key(organization, "service", created_by=creator, is_service=True),
        "operator": key(organization, "operator"),
        "elsewhere": key(other, "elsewhere", created_by=creator),
    }


def revoked(keys: dict) -> set[str]:
    return {k.name for k in ApiKey.objects.exclude(revoked_at=None)}


def audited_reasons() -> list[tuple[str, str]]:
    events = AuditEvent.objects.filter(action=AuditEvent.Action.KEY_REVOKED).order_by("detail__name")
    return [(e.detail["name"], e.detail.get("reason")) for e in events]


def test_deactivating_the_creator_revokes_their_personal_keys_everywhere_with_an_audit_event(keys):
    creator = keys["creator"]
    creator.is_active = False
    creator.save()
    assert revoked(keys) == {"personal", "elsewhere"}
    assert audited_reasons() == [("elsewhere", "creator_deactivated"), ("personal", "creator_deactivated")]


def test_saving_an_already_inactive_user_revokes_nothing_more(keys):
    creator = keys["creator"]
    creator.is_active = False
    creator.save()
    key = services.api_key_create(
        organization=keys["organization"], name="later", scopes=["text"], created_by=creator, enforce_role=False
    )[0]
    creator.save()
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None


def test_removing_the_creator_from_an_organisation_revokes_their_personal_keys_there_only(keys):
    membership = keys["creator"].memberships.get(organization=keys["organization"])
    services.membership_remove(membership=membership)
    assert revoked(keys) == {"personal"}
    assert audited_reasons() == [("personal", "creator_removed")]


def test_deleting_the_creator_revokes_their_personal_keys(keys):
    keys["creator"].delete()
    assert revoked(keys) == {"personal", "elsewhere"}
    assert {reason for _, reason in audited_reasons()} == {"creator_deleted"}


def test_a_rotated_service_key_stays_a_service_key(keys):
    new, _ = services.api_key_rotate(api_key=keys["service"])
    assert new.is_service
