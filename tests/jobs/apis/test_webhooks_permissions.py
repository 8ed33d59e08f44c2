"""Who may do what on the webhook endpoints: every role against every operation, and no object of
another organisation is ever reachable (404, as if it did not exist)."""

from __future__ import annotations

import pytest

from accounts import services as accounts_services
from accounts.roles import ROLES, role_allows
from jobs.models import WebhookEndpoint
from tests.accounts.factories import member_create_for_tests
from tests.jobs.apis.conftest import endpoint_with_delivery

pytestmark = pytest.mark.django_db

# (method, path under the organisation, body, the action it needs, the status when allowed)
OPERATIONS = [
    ("get", "webhooks", None, "view_jobs", 200),
    ("post", "webhooks", {"url": "https://example.com/new"}, "manage_webhooks", 201),
    ("get", "webhooks/{endpoint}", None, "view_jobs", 200),
    ("patch", "webhooks/{endpoint}", {"is_active": False}, "manage_webhooks", 200),
    ("delete", "webhooks/{endpoint}", None, "manage_webhooks", 204),
    ("get", "webhooks/{endpoint}/deliveries", None, "view_jobs", 200),
    ("post", "webhooks/{endpoint}/deliveries/{delivery}/redeliver", None, "manage_webhooks", 202),
]
OPERATION_IDS = [f"{method}-{path}" for method, path, *_ in OPERATIONS]
OBJECT_OPERATIONS = [op for op in OPERATIONS if "{endpoint}" in op[1]]


def _path(template: str, hook) -> str:
    endpoint, delivery = hook
    return template.format(endpoint=endpoint.pk, delivery=delivery.pk)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "body", "action", "allowed_status"), OPERATIONS, ids=OPERATION_IDS)
def test_each_role_is_allowed_exactly_what_the_matrix_says(
    role, method, path, body, action, allowed_status, hook, user_with_role, jwt_client
):
    client = jwt_client(user_with_role(role))
    response = getattr(client, method)(f"/api/orgs/acme/{_path(path, hook)}", body, format="json")
    expected = allowed_status if role_allows(role, action) else 403
    assert response.status_code == expected, response.content
    if expected == 403:
        assert response.json()["error"]["type"] == "permission_error"


@pytest.mark.parametrize(("method", "path", "body", "action", "allowed_status"), OPERATIONS, ids=OPERATION_IDS)
def test_without_a_token_every_operation_is_a_401(method, path, body, action, allowed_status, hook, anon_client):
    response = getattr(anon_client, method)(f"/api/orgs/acme/{_path(path, hook)}", body, format="json")
    assert response.status_code == 401


@pytest.mark.parametrize(("method", "path", "body", "action", "allowed_status"), OPERATIONS, ids=OPERATION_IDS)
def test_someone_outside_the_organisation_gets_404_on_every_operation(
    method, path, body, action, allowed_status, hook, stranger, jwt_client
):
    response = getattr(jwt_client(stranger), method)(f"/api/orgs/acme/{_path(path, hook)}", body, format="json")
    assert response.status_code == 404


@pytest.mark.parametrize(("method", "path", "body", "action", "allowed_status"), OPERATIONS, ids=OPERATION_IDS)
def test_an_owner_of_one_organisation_gets_404_on_another_by_path_and_by_header(
    method, path, body, action, allowed_status, foreign_hook, owner, jwt_client
):
    client = jwt_client(owner)
    by_path = getattr(client, method)(f"/api/orgs/globex/{_path(path, foreign_hook)}", body, format="json")
    by_header = getattr(client, method)(
        f"/api/org/{_path(path, foreign_hook)}", body, format="json", HTTP_X_ORGANIZATION="globex"
    )
    assert (by_path.status_code, by_header.status_code) == (404, 404)


@pytest.mark.parametrize(
    ("method", "path", "body", "action", "allowed_status"),
    OBJECT_OPERATIONS,
    ids=[f"{m}-{p}" for m, p, *_ in OBJECT_OPERATIONS],
)
def test_another_organisations_endpoint_and_delivery_ids_are_not_found_in_your_own(
    method, path, body, action, allowed_status, hook, foreign_hook, owner, jwt_client
):
    response = getattr(jwt_client(owner), method)(f"/api/orgs/acme/{_path(path, foreign_hook)}", body, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"
    assert WebhookEndpoint.objects.get(pk=foreign_hook[0].pk).is_active  # untouched


def test_a_member_of_both_organisations_reaches_each_endpoint_only_through_its_own_organisation(
    hook, foreign_hook, other_org, jwt_client
):
    both = member_create_for_tests(organization=other_org, role="owner")
    accounts_services.membership_add(organization=hook[0].organization, user=both, role="owner")
    client = jwt_client(both)
    assert client.get(f"/api/orgs/acme/webhooks/{hook[0].pk}").status_code == 200
    assert client.get(f"/api/orgs/globex/webhooks/{hook[0].pk}").status_code == 404
    redeliver = f"/api/orgs/acme/webhooks/{hook[0].pk}/deliveries/{foreign_hook[1].pk}/redeliver"
    assert client.post(redeliver).status_code == 404


def test_a_delivery_is_only_found_under_its_own_endpoint(hook, org, owner, jwt_client):
    other_endpoint, _ = endpoint_with_delivery(org)
    response = jwt_client(owner).post(f"/api/orgs/acme/webhooks/{other_endpoint.pk}/deliveries/{hook[1].pk}/redeliver")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "delivery_not_found"


def test_a_malformed_delivery_id_is_a_404_in_the_error_shape(hook, owner, jwt_client):
    response = jwt_client(owner).post(f"/api/orgs/acme/webhooks/{hook[0].pk}/deliveries/not-a-uuid/redeliver")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "delivery_not_found"
