"""Webhook endpoints through the management API: secret shown once, validation, changes, the
delivery log with its attempts, redelivery, and the OpenAPI documentation."""

from __future__ import annotations

import json

import pytest
from django_tasks_db.models import DBTaskResult
from drf_spectacular.generators import SchemaGenerator
from standardwebhooks import Webhook

from core.crypto import decrypt
from jobs.delivery import signed_headers
from jobs.models import WebhookDelivery, WebhookEndpoint
from tests.jobs.test_netguard import PROBED_URLS

pytestmark = pytest.mark.django_db

BASE = "/api/orgs/acme/webhooks"


def test_creating_an_endpoint_shows_its_secret_once_and_stores_it_encrypted(owner, jwt_client):
    client = jwt_client(owner)
    created = client.post(BASE, {"url": "https://example.com/h", "event_types": ["job.failed"]}, format="json")
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    stored = WebhookEndpoint.objects.get(pk=created.json()["id"])
    assert secret not in json.dumps(WebhookEndpoint.objects.filter(pk=stored.pk).values().get(), default=str)
    assert decrypt(stored.secret) == secret
    assert all("secret" not in e for e in client.get(BASE).json())
    assert "secret" not in client.get(f"{BASE}/{stored.pk}").json()
    assert "secret" not in client.patch(f"{BASE}/{stored.pk}", {"description": "x"}, format="json").json()


def test_the_shown_secret_verifies_what_the_gateway_signs_for_that_endpoint(owner, jwt_client):
    created = jwt_client(owner).post(BASE, {"url": "https://example.com/h"}, format="json").json()
    stored = WebhookEndpoint.objects.get(pk=created["id"])
    body = '{"type":"job.succeeded"}'
    headers = signed_headers(secret=decrypt(stored.secret), message_id="msg_1", body=body)
    assert Webhook(created["secret"]).verify(body, headers) == {"type": "job.succeeded"}


@pytest.mark.parametrize("url", PROBED_URLS)
def test_endpoint_urls_are_checked_by_the_validator_job_webhooks_use(url, owner, jwt_client, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    response = jwt_client(owner).post(BASE, {"url": url}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"] | {"message": ""} == {
        "message": "",
        "type": "invalid_request_error",
        "code": "unsafe_webhook_url",
        "param": "url",
    }
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({}, "url", "invalid_value"),
        ({"url": "not a url"}, "url", "invalid_value"),
        ({"url": "ftp://example.com/h"}, "url", "unsafe_webhook_url"),
        ({"url": "https://user:pw@example.com/h"}, "url", "unsafe_webhook_url"),  # pragma: allowlist secret
        ({"url": "http://10.0.0.1/h"}, "url", "unsafe_webhook_url"),
        ({"url": "http://127.0.0.1:8080/h"}, "url", "unsafe_webhook_url"),
        ({"url": "http://[::1]/h"}, "url", "unsafe_webhook_url"),
        ({"url": "http://169.254.169.254/latest"}, "url", "unsafe_webhook_url"),
        ({"url": "http://localhost/h"}, "url", "unsafe_webhook_url"),
        ({"url": "https://example.com/" + "a" * 2000}, "url", "invalid_value"),
        ({"url": "https://example.com/h", "event_types": ["job.exploded"]}, "event_types.0", "invalid_value"),
        ({"url": "https://example.com/h", "event_types": "job.failed"}, "event_types", "invalid_value"),
        ({"url": "https://example.com/h", "description": "d" * 201}, "description", "invalid_value"),
        ({"url": "https://example.com/h", "is_active": "maybe"}, "is_active", "invalid_value"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(body, param, code, owner, jwt_client, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    response = jwt_client(owner).post(BASE, body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["param"] == param
    assert response.json()["error"]["code"] == code
    assert not WebhookEndpoint.objects.exists()


def test_private_addresses_are_accepted_when_allowed_but_metadata_addresses_never(owner, jwt_client, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    client = jwt_client(owner)
    assert client.post(BASE, {"url": "http://127.0.0.1:9000/h"}, format="json").status_code == 201
    assert client.post(BASE, {"url": "http://169.254.169.254/h"}, format="json").status_code == 400


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"url": "http://192.168.1.1/h"}, "url"),
        ({"event_types": ["job.nope"]}, "event_types.0"),
        ({"url": "https://example.com/new", "description": "d" * 201}, "description"),
        ({"url": "https://example.com/new", "is_active": False, "event_types": ["bad"]}, "event_types.0"),
    ],
)
def test_a_refused_change_changes_nothing(body, param, hook, owner, jwt_client, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    endpoint = hook[0]
    response = jwt_client(owner).patch(f"{BASE}/{endpoint.pk}", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    after = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert (after.url, after.is_active, after.event_types, after.description) == (
        "https://example.com/hook",
        True,
        [],
        "",
    )


def test_an_endpoint_can_be_disabled_narrowed_and_moved(hook, owner, jwt_client):
    endpoint = hook[0]
    changed = jwt_client(owner).patch(
        f"{BASE}/{endpoint.pk}",
        {"is_active": False, "event_types": ["job.succeeded", "job.failed"], "url": "https://hooks.example.org/x"},
        format="json",
    )
    assert changed.status_code == 200
    assert changed.json() | {"created_at": None} == {
        "id": endpoint.pk,
        "url": "https://hooks.example.org/x",
        "description": "",
        "event_types": ["job.failed", "job.succeeded"],
        "is_active": False,
        "created_at": None,
    }
    stored = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert (stored.is_active, stored.url, stored.secret) == (False, "https://hooks.example.org/x", endpoint.secret)


def test_deleting_an_endpoint_keeps_its_delivery_log(hook, owner, jwt_client):
    endpoint, delivery = hook
    assert jwt_client(owner).delete(f"{BASE}/{endpoint.pk}").status_code == 204
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert WebhookDelivery.objects.get(pk=delivery.pk).endpoint_id is None
    assert jwt_client(owner).get(f"{BASE}/{endpoint.pk}").status_code == 404


def test_deliveries_are_listed_with_every_attempt(hook, owner, jwt_client):
    endpoint, delivery = hook
    listed = jwt_client(owner).get(f"{BASE}/{endpoint.pk}/deliveries").json()
    assert [d["id"] for d in listed] == [str(delivery.pk)]
    entry = listed[0]
    assert (entry["status"], entry["attempt_count"], entry["last_status_code"]) == ("succeeded", 2, 200)
    assert entry["message_id"] == delivery.message_id
    assert [(a["number"], a["status_code"], a["latency_ms"], a["error"]) for a in entry["attempts"]] == [
        (1, 503, 120, "non-2xx"),
        (2, 200, 84, ""),
    ]


def test_deliveries_can_be_filtered_by_status_and_limited(hook, owner, jwt_client):
    client = jwt_client(owner)
    url = f"{BASE}/{hook[0].pk}/deliveries"
    assert client.get(url, {"status": "failed"}).json() == []
    assert len(client.get(url, {"status": "succeeded", "limit": 1}).json()) == 1
    bad = client.get(url, {"limit": 1000})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "limit"


def test_redelivering_queues_the_delivery_again_with_the_same_webhook_id(hook, owner, jwt_client):
    endpoint, delivery = hook
    queued_before = DBTaskResult.objects.filter(task_path="jobs.tasks.webhook_deliver").count()
    response = jwt_client(owner).post(f"{BASE}/{endpoint.pk}/deliveries/{delivery.pk}/redeliver")
    assert response.status_code == 202
    assert (response.json()["status"], response.json()["message_id"]) == ("pending", delivery.message_id)
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == WebhookDelivery.Status.PENDING
    assert DBTaskResult.objects.filter(task_path="jobs.tasks.webhook_deliver").count() == queued_before + 1


def test_the_header_selected_routes_reach_the_same_endpoints(hook, owner, jwt_client):
    response = jwt_client(owner).get("/api/org/webhooks", HTTP_X_ORGANIZATION="acme")
    assert [e["id"] for e in response.json()] == [hook[0].pk]


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/orgs/{org_slug}/webhooks", "get"),
        ("/api/orgs/{org_slug}/webhooks", "post"),
        ("/api/orgs/{org_slug}/webhooks/{endpoint_id}", "get"),
        ("/api/orgs/{org_slug}/webhooks/{endpoint_id}", "patch"),
        ("/api/orgs/{org_slug}/webhooks/{endpoint_id}/deliveries", "get"),
        ("/api/orgs/{org_slug}/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver", "post"),
    ],
)
def test_each_webhook_operation_is_documented_with_an_example_and_its_errors(schema, path, method):
    operation = schema["paths"][path][method]
    assert operation["summary"]
    assert "example" in str(operation)
    assert {"401", "403", "404"} <= set(operation["responses"])
