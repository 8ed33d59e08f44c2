"""Cross-organisation access on every object endpoint is a 404, never a 403 or data."""

from __future__ import annotations

import pytest

from accounts import services
from tests.accounts.factories import api_key_create_for_tests, member_create_for_tests

pytestmark = pytest.mark.django_db


@pytest.fixture
def foreign(other_org):
    """Objects of another organisation, and its owner."""
    owner = member_create_for_tests(organization=other_org, role="owner")
    api_key, _ = api_key_create_for_tests(org=other_org)
    invitation, _ = services.invitation_create(organization=other_org, email="x@globex.io", role="viewer")
    membership = owner.memberships.get()
    return {"key": api_key.pk, "invitation": invitation.pk, "member": membership.pk}


def _endpoints(ids: dict[str, int]) -> list[tuple[str, str, dict | None]]:
    return [
        ("get", "", None),
        ("get", "members", None),
        ("patch", f"members/{ids['member']}", {"role": "viewer"}),
        ("delete", f"members/{ids['member']}", None),
        ("get", "invitations", None),
        ("post", "invitations", {"email": "a@b.io", "role": "viewer"}),
        ("delete", f"invitations/{ids['invitation']}", None),
        ("get", "keys", None),
        ("post", "keys", {"name": "x", "scopes": ["text"]}),
        ("get", f"keys/{ids['key']}", None),
        ("delete", f"keys/{ids['key']}", None),
        ("post", f"keys/{ids['key']}/rotate", None),
        ("post", f"keys/{ids['key']}/revoke", None),
        ("get", "audit-events", None),
    ]


ENDPOINT_IDS = [f"{m}-{p or 'org'}" for m, p, _ in _endpoints({"key": 0, "invitation": 0, "member": 0})]


@pytest.mark.parametrize("index", range(len(ENDPOINT_IDS)), ids=ENDPOINT_IDS)
def test_an_owner_of_one_organisation_gets_404_on_another_by_path(index, foreign, owner, jwt_client):
    method, path, body = _endpoints(foreign)[index]
    response = getattr(jwt_client(owner), method)(f"/api/orgs/globex/{path}".rstrip("/"), body, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"


@pytest.mark.parametrize("index", range(len(ENDPOINT_IDS)), ids=ENDPOINT_IDS)
def test_an_owner_of_one_organisation_gets_404_on_another_by_header(index, foreign, owner, jwt_client):
    method, path, body = _endpoints(foreign)[index]
    client = jwt_client(owner)
    response = getattr(client, method)(
        f"/api/org/{path}".rstrip("/"), body, format="json", HTTP_X_ORGANIZATION="globex"
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "keys/{key}", None),
        ("delete", "keys/{key}", None),
        ("post", "keys/{key}/rotate", None),
        ("post", "keys/{key}/revoke", None),
        ("patch", "members/{member}", {"role": "viewer"}),
        ("delete", "members/{member}", None),
        ("delete", "invitations/{invitation}", None),
    ],
)
def test_another_organisations_object_ids_are_not_found_in_your_own(method, path, body, foreign, owner, jwt_client):
    url = "/api/orgs/acme/" + path.format(**foreign)
    response = getattr(jwt_client(owner), method)(url, body, format="json")
    assert response.status_code == 404


def test_nothing_changed_in_the_other_organisation(foreign, owner, jwt_client, other_org):
    client = jwt_client(owner)
    client.delete(f"/api/orgs/acme/keys/{foreign['key']}")
    client.post(f"/api/orgs/globex/keys/{foreign['key']}/revoke")
    assert other_org.api_keys.get(pk=foreign["key"]).revoked_at is None


def test_a_nonexistent_organisation_looks_the_same_as_a_foreign_one(owner, jwt_client, other_org):
    client = jwt_client(owner)
    assert client.get("/api/orgs/globex/keys").json() == client.get("/api/orgs/no-such-org/keys").json()


def test_the_header_route_without_a_header_names_the_missing_header(owner, jwt_client):
    response = jwt_client(owner).get("/api/org/keys")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "X-Organization"


def test_a_user_in_two_organisations_acts_in_the_one_chosen(org, other_org, owner, jwt_client):
    services.membership_add(organization=other_org, user=owner, role="viewer")
    client = jwt_client(owner)
    assert (
        client.post(
            "/api/org/keys", {"name": "a", "scopes": ["text"]}, format="json", HTTP_X_ORGANIZATION="acme"
        ).status_code
        == 201
    )
    assert (
        client.post(
            "/api/org/keys", {"name": "a", "scopes": ["text"]}, format="json", HTTP_X_ORGANIZATION="globex"
        ).status_code
        == 403
    )
