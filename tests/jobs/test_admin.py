"""The admin creates webhook endpoints through the service and shows the new secret once."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from core.crypto import decrypt
from jobs.models import WebhookEndpoint
from tests.accounts.factories import organization_create_for_tests, user_create_for_tests

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/jobs/webhookendpoint/add/"


@pytest.fixture
def admin_client(settings) -> Client:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    client = Client()  # the jobs conftest's ``client`` is the gateway's ASGI client
    client.force_login(user_create_for_tests(is_staff=True, is_superuser=True))
    return client


def test_the_admin_creates_an_endpoint_and_shows_its_secret_once(admin_client):
    org = organization_create_for_tests(slug="acme")
    form = {
        "organization": org.pk,
        "url": "https://example.com/h",
        "description": "d",
        "event_types": ["job.failed"],
        "is_active": "on",
    }
    response = admin_client.post(ADD_URL, form, follow=True)
    shown = [str(m) for m in get_messages(response.wsgi_request)] + [response.content.decode()]
    secret = re.search(r"whsec_[A-Za-z0-9+/=]+", " ".join(shown)).group(0)
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.organization, endpoint.event_types, decrypt(endpoint.secret)) == (org, ["job.failed"], secret)
    change_page = admin_client.get(f"/admin/jobs/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert secret not in change_page and endpoint.secret not in change_page


def test_the_admin_refuses_a_private_url_and_creates_nothing(admin_client, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    org = organization_create_for_tests(slug="acme")
    response = admin_client.post(ADD_URL, {"organization": org.pk, "url": "http://10.1.2.3/h", "is_active": "on"})
    assert response.status_code == 200 and "public hosts" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_the_admin_changes_an_endpoint_through_the_service(admin_client):
    org = organization_create_for_tests(slug="acme")
    admin_client.post(ADD_URL, {"organization": org.pk, "url": "https://example.com/h", "is_active": "on"})
    endpoint = WebhookEndpoint.objects.get()
    form = {"url": "https://example.com/moved", "description": "", "event_types": ["job.succeeded"]}
    admin_client.post(f"/admin/jobs/webhookendpoint/{endpoint.pk}/change/", form)
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.event_types, endpoint.is_active) == (
        "https://example.com/moved",
        ["job.succeeded"],
        False,
    )
