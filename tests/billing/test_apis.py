"""GET /api/usage: filters, grouping, CSV export, and who may read it."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import membership_add
from billing.services import usage_events_insert


@pytest.fixture
def member(organization) -> APIClient:
    user = User.objects.create_user(email="ada@example.com", password="a long enough password")
    membership_add(organization=organization, user=user, role="viewer")
    client = APIClient()
    client.force_authenticate(user)
    client.credentials(HTTP_X_ORGANIZATION=organization.slug)
    return client


def _events(organization) -> list[dict]:
    now = timezone.now().timestamp()
    return [
        {
            "request_id": f"r{i}",
            "client_request_id": "",
            "created_at": now - i,
            "organization_id": organization.pk,
            "key_id": 1 + i % 2,
            "user_id": None,
            "provider": "pollinations-text",
            "model": ("openai", "mistral")[i % 2],
            "operation": "chat",
            "modality": "text",
            "input_tokens": 10,
            "output_tokens": 5,
            "images": 0,
            "audio_seconds": 0.0,
            "characters": 0,
            "usage_source": "upstream",
            "cost": 100,
            "status": 500 if i == 3 else 200,
            "latency_ms": 10 * (i + 1),
            "cache_hit": False,
        }
        for i in range(6)
    ]


def test_usage_is_grouped_by_day_by_default(member, organization):
    usage_events_insert(events=_events(organization))
    body = member.get("/api/usage").json()
    assert body["group_by"] == "day"
    assert sum(r["requests"] for r in body["rows"]) == 6
    assert sum(r["errors"] for r in body["rows"]) == 1
    assert sum(r["cost"] for r in body["rows"]) == 600
    assert body["latency_ms"]["p50"] > 0


def test_usage_is_filtered_and_grouped_by_model(member, organization):
    usage_events_insert(events=_events(organization))
    rows = member.get("/api/usage", {"group_by": "model"}).json()["rows"]
    assert {r["group"]: r["requests"] for r in rows} == {"openai": 3, "mistral": 3}
    rows = member.get("/api/usage", {"group_by": "key", "model": "openai"}).json()["rows"]
    assert [(r["group"], r["requests"]) for r in rows] == [(1, 3)]


def test_usage_exports_as_csv(member, organization):
    usage_events_insert(events=_events(organization))
    answer = member.get("/api/usage", {"group_by": "model", "export": "csv"})
    assert answer["Content-Type"] == "text/csv"
    lines = answer.content.decode().splitlines()
    assert lines[0].startswith("model,requests,errors,cost") and len(lines) == 3


@pytest.mark.parametrize("group_by", ["day", "model", "provider", "key", "modality", "organization"])
def test_every_grouping_the_api_offers_answers(member, organization, group_by):
    usage_events_insert(events=_events(organization))
    answer = member.get("/api/usage", {"group_by": group_by})
    assert answer.status_code == 200, answer.content
    assert sum(r["requests"] for r in answer.json()["rows"]) == 6


def test_grouping_by_status_is_refused_since_the_daily_roll_up_keeps_only_error_counts(member, organization):
    usage_events_insert(events=_events(organization))
    answer = member.get("/api/usage", {"group_by": "status"})
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "group_by"


def test_bad_filters_are_a_400_naming_the_field(member):
    answer = member.get("/api/usage", {"group_by": "colour"})
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "group_by"


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"end": "9999-12-31"}, "end"),
        ({"end": "0001-01-05"}, "end"),
        ({"start": "0001-01-01", "end": "0001-01-02"}, "start"),
    ],
)
def test_dates_at_the_ends_of_the_calendar_are_a_400_naming_the_field(member, params, param):
    """They were 500s: the day after 9999-12-31 and the default start 29 days before 0001-01-05 overflow."""
    answer = member.get("/api/usage", params)
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["param"] == param


def test_another_organisations_usage_is_not_visible(member, organization):
    from accounts.services import organization_create

    other = organization_create(name="Other", slug="other")
    assert member.get(f"/api/orgs/{other.slug}/usage").status_code == 404
    assert member.get(f"/api/orgs/{organization.slug}/usage").status_code == 200


def test_usage_exports_as_csv_when_the_client_accepts_text_csv(member, organization):
    usage_events_insert(events=_events(organization))
    answer = member.get("/api/usage", {"group_by": "model"}, HTTP_ACCEPT="text/csv")
    assert (answer.status_code, answer["Content-Type"]) == (200, "text/csv")
    assert answer.content.decode().splitlines()[0].startswith("model,requests,errors,cost")


def test_a_bad_csv_request_is_still_a_json_error(member):
    answer = member.get("/api/usage", {"group_by": "colour"}, HTTP_ACCEPT="text/csv")
    assert answer.status_code == 400
    assert answer["Content-Type"].startswith("application/json")
    assert answer.json()["error"]["param"] == "group_by"


def test_json_stays_the_default(member):
    assert member.get("/api/usage", HTTP_ACCEPT="*/*")["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("organization_header", [True, False])
def test_a_method_the_usage_api_does_not_have_is_a_405_whatever_the_organisation_header(
    member, organization, organization_header
):
    if not organization_header:
        member.credentials()  # force_authenticate stays; only the header goes
    response = member.put("/api/usage", {})
    assert response.status_code == 405
    assert response.json()["error"]["type"] == "invalid_request_error"
