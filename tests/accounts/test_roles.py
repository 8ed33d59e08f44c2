"""The permission matrix: every role x every action, allowed and denied, through the table and DRF."""

from __future__ import annotations

import pytest
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate

from accounts.apis.base import OrganizationApi
from accounts.roles import ACTIONS, ROLES, matrix_markdown, role_allows
from tests.accounts.factories import user_create_for_tests
from tests.conftest import ROOT

# The specification, written out independently of accounts/roles.py: (action) → roles allowed.
EXPECTED: dict[str, set[str]] = {
    "view_organization": {"owner", "admin", "developer", "billing", "viewer"},
    "manage_organization": {"owner"},
    "manage_members": {"owner", "admin"},
    "manage_owners": {"owner"},
    "view_keys": {"owner", "admin", "developer", "viewer"},
    "manage_keys": {"owner", "admin", "developer"},
    "call_gateway": {"owner", "admin", "developer"},
    "view_usage": {"owner", "admin", "developer", "billing", "viewer"},
    "view_billing": {"owner", "admin", "billing"},
    "manage_billing": {"owner", "billing"},
    "view_jobs": {"owner", "admin", "developer", "viewer"},
    "manage_results": {"owner", "admin", "developer"},
    "manage_webhooks": {"owner", "admin", "developer"},
    "view_audit_log": {"owner"},
}
CELLS = [(role, action) for action in ACTIONS for role in ROLES]


def test_the_specification_covers_every_action():
    assert set(EXPECTED) == set(ACTIONS)


@pytest.mark.parametrize(("role", "action"), CELLS)
def test_role_allows_matches_the_specification(role, action):
    assert role_allows(role, action) is (role in EXPECTED[action])


@pytest.mark.parametrize("action", ACTIONS)
def test_unknown_roles_and_no_role_are_denied_everything(action):
    assert not role_allows(None, action)
    assert not role_allows("superadmin", action)


def test_unknown_actions_are_denied_to_every_role():
    assert not any(role_allows(role, "launch_rockets") for role in ROLES)


class _Probe(OrganizationApi):
    def get(self, request, org_slug):
        return Response({"ok": True})


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "action"), CELLS)
def test_the_drf_permission_class_enforces_every_cell(role, action, org, user_with_role):
    user = user_with_role(role)
    view = _Probe.as_view(required_actions={"GET": action})
    request = APIRequestFactory().get(f"/probe/{org.slug}")
    force_authenticate(request, user=user)
    response = view(request, org_slug=org.slug)
    assert response.status_code == (200 if role in EXPECTED[action] else 403)


@pytest.mark.django_db
def test_a_method_without_a_declared_action_is_denied_even_to_owners(org, owner):
    view = _Probe.as_view(required_actions={})
    request = APIRequestFactory().get("/probe")
    force_authenticate(request, user=owner)
    assert view(request, org_slug=org.slug).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["owner", "viewer"])
def test_any_member_may_ask_a_route_what_it_offers_and_a_stranger_may_not(org, user_with_role, role):
    """OPTIONS describes the route (its methods and formats, as the public API schema does): a member's
    role does not matter, and an organisation's existence is still not revealed to a non-member."""
    view = _Probe.as_view(required_actions={"GET": "manage_organization"})
    request = APIRequestFactory().options(f"/probe/{org.slug}")
    force_authenticate(request, user=user_with_role(role))
    response = view(request, org_slug=org.slug)
    assert response.status_code == 200
    assert "GET" in response["Allow"]
    stranger = APIRequestFactory().options(f"/probe/{org.slug}")
    force_authenticate(stranger, user=user_create_for_tests(email="stranger@example.com"))
    assert view(stranger, org_slug=org.slug).status_code == 404


def test_the_auth_guide_prints_the_matrix_from_code():
    guide = (ROOT / "docs" / "auth.md").read_text()
    assert matrix_markdown() in guide, (
        "docs/auth.md's permission matrix is stale: paste accounts.roles.matrix_markdown()"
    )
