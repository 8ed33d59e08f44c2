"""Webhooks in the dashboard: endpoints with a secret shown once, rotation, deletion, deliveries redelivered."""

from __future__ import annotations

import re

import pytest

from core.crypto import decrypt
from jobs.models import Job, WebhookDelivery, WebhookEndpoint
from jobs.services import webhook_deliveries_create, webhook_endpoint_create

SECRET = re.compile(r'value="(whsec_[^"]+)"')


def test_a_developer_adds_an_endpoint_and_sees_its_secret_once(signed_in, org):
    client = signed_in("developer")
    response = client.post(
        "/webhooks/new/", {"url": "https://example.com/hook", "description": "CI", "event_types": ["job.failed"]}
    )
    [secret] = SECRET.findall(response.content.decode())
    endpoint = WebhookEndpoint.objects.get(organization=org)
    assert decrypt(endpoint.secret) == secret and endpoint.event_types == ["job.failed"]
    assert response["Cache-Control"].count("no-store")
    assert secret not in client.get("/webhooks/").content.decode()


def test_an_unsafe_url_is_refused_on_its_field(signed_in, org):
    response = signed_in("admin").post("/webhooks/new/", {"url": "http://127.0.0.1/hook"})
    assert response.status_code == 200 and 'class="error" role="alert"' in response.content.decode()
    assert not WebhookEndpoint.objects.filter(organization=org).exists()


def test_rotating_the_secret_replaces_it_and_delete_removes_the_endpoint(signed_in, org):
    endpoint, old = webhook_endpoint_create(organization=org, url="https://example.com/hook", event_types=[])
    client = signed_in("owner")
    [new] = SECRET.findall(client.post(f"/webhooks/{endpoint.pk}/rotate/").content.decode())
    endpoint.refresh_from_db()
    assert new != old and decrypt(endpoint.secret) == new
    client.post(f"/webhooks/{endpoint.pk}/delete/")
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_a_failed_delivery_is_listed_with_its_attempts_and_redelivered(signed_in, org):
    webhook_endpoint_create(organization=org, url="https://example.com/hook", event_types=[])
    job = Job.objects.create(organization=org, kind="image", model="flux", status="failed")
    [delivery] = webhook_deliveries_create(job=job, event_type="job.failed")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=8)
    client = signed_in("developer")
    assert "job.failed" in client.get("/webhooks/").content.decode()
    client.post(f"/webhooks/deliveries/{delivery.pk}/redeliver/")
    delivery.refresh_from_db()
    assert delivery.status == "pending"


@pytest.mark.parametrize("role", ["viewer", "billing"])
def test_roles_without_manage_webhooks_are_refused(signed_in, org, role):
    endpoint, _ = webhook_endpoint_create(organization=org, url="https://example.com/hook", event_types=[])
    client = signed_in(role)
    assert client.get("/webhooks/").status_code == 403
    assert client.post(f"/webhooks/{endpoint.pk}/delete/").status_code == 403
    assert ">Webhooks</a>" not in client.get("/").content.decode()
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_the_webhooks_page_answers_in_a_bounded_number_of_queries(signed_in, org, django_assert_max_num_queries):
    webhook_endpoint_create(organization=org, url="https://example.com/hook", event_types=[])
    for _ in range(10):
        job = Job.objects.create(organization=org, kind="image", model="flux")
        webhook_deliveries_create(job=job, event_type="job.succeeded")
    client = signed_in("owner")
    # Session, user, memberships, endpoints, deliveries, their attempts.
    with django_assert_max_num_queries(6):
        assert client.get("/webhooks/").status_code == 200
