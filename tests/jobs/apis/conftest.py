"""Fixtures for the webhook management API: the accounts fixtures (organisations, roles, JWT clients)
plus an endpoint with one delivery and its attempts, in ``acme`` and in ``globex``."""

from __future__ import annotations

import pytest

from accounts.models import Organization
from jobs import services
from jobs.models import WebhookDelivery, WebhookEndpoint
from tests.accounts import conftest as accounts_fixtures

for _name in (
    "_fast_password_hashing",
    "_fresh_caches",
    "anon_client",
    "jwt_client",
    "org",
    "other_org",
    "owner",
    "stranger",
    "user_with_role",
):
    globals()[_name] = getattr(accounts_fixtures, _name)


def endpoint_with_delivery(organization: Organization) -> tuple[WebhookEndpoint, WebhookDelivery]:
    """An endpoint of ``organization`` with one delivery that failed once and then succeeded."""
    endpoint, _ = services.webhook_endpoint_create(
        organization=organization, url="https://example.com/hook", event_types=[]
    )
    delivery = WebhookDelivery.objects.create(
        organization=organization, endpoint=endpoint, url=endpoint.url, event_type="job.succeeded", payload={}
    )
    services.webhook_attempt_record(delivery=delivery, status_code=503, latency_ms=120, error="non-2xx", excerpt="")
    services.webhook_attempt_record(delivery=delivery, status_code=200, latency_ms=84, error="", excerpt="ok")
    delivery.refresh_from_db()
    return endpoint, delivery


@pytest.fixture
def hook(org) -> tuple[WebhookEndpoint, WebhookDelivery]:
    return endpoint_with_delivery(org)


@pytest.fixture
def foreign_hook(other_org) -> tuple[WebhookEndpoint, WebhookDelivery]:
    return endpoint_with_delivery(other_org)
