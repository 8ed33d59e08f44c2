"""Through the management API: a key's limits only tighten its organisation's plan, on create and
on edit (400 naming the limit); an organisation (service) key is chosen at creation."""

from __future__ import annotations

import pytest

from accounts.models import ApiKey, Organization
from billing.models import Plan
from billing.services import subscription_create

pytestmark = pytest.mark.django_db
KEYS = "/api/orgs/acme/keys"


@pytest.fixture
def on_plan(owner):
    plan = Plan.objects.create(slug="team", name="Team", job_priority=10, max_running_jobs=4, requests_per_minute=60)
    subscription_create(organization=Organization.objects.get(slug="acme"), plan=plan)


@pytest.mark.parametrize(
    ("limits", "param"),
    [
        ({"job_priority": 100}, "limits.job_priority"),
        ({"max_running_jobs": 1000}, "limits.max_running_jobs"),
        ({"requests_per_minute": 61}, "limits.requests_per_minute"),
    ],
)
def test_a_key_looser_than_the_plan_is_refused_on_create_and_on_edit(owner, jwt_client, on_plan, limits, param):
    client = jwt_client(owner)
    refused = client.post(KEYS, {"name": "jump", "scopes": ["image"], "limits": limits}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["param"] == param
    assert not ApiKey.objects.filter(name="jump").exists()
    created = client.post(KEYS, {"name": "ok", "scopes": ["image"], "limits": {"job_priority": 0}}, format="json")
    assert created.status_code == 201, created.json()
    edited = client.patch(f"{KEYS}/{created.json()['id']}", {"limits": limits}, format="json")
    assert edited.status_code == 400 and edited.json()["error"]["param"] == param
    assert ApiKey.objects.get(pk=created.json()["id"]).limits == {"job_priority": 0}


def test_a_service_key_is_chosen_at_creation_and_shown(owner, jwt_client):
    client = jwt_client(owner)
    created = client.post(KEYS, {"name": "svc", "scopes": ["text"], "is_service": True}, format="json").json()
    assert created["is_service"] is True and ApiKey.objects.get(pk=created["id"]).is_service
    personal = client.post(KEYS, {"name": "mine", "scopes": ["text"]}, format="json").json()
    assert personal["is_service"] is False
    edited = client.patch(f"{KEYS}/{personal['id']}", {"is_service": True, "name": "mine2"}, format="json")
    assert edited.status_code == 200 and edited.json()["is_service"] is False
