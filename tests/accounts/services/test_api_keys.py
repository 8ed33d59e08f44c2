"""Per-key limits: the names billing and the job scheduler understand, within their bounds, and
never looser than the organisation's plan (a key only tightens it)."""

from __future__ import annotations

import pytest

from accounts.exceptions import InvalidInput
from accounts.services import api_key_create, api_key_limits_clean, organization_create
from billing.models import Plan
from billing.services import subscription_create

pytestmark = pytest.mark.django_db

PLAN = {"requests_per_minute": 60, "concurrent_requests": 4, "job_priority": 50, "max_running_jobs": 10}


@pytest.fixture
def organization(settings):
    settings.JOBS_MAX_RUNNING_PER_ORG = 4
    return organization_create(name="Acme", slug="acme")


def subscribed(organization):
    subscription_create(organization=organization, plan=Plan.objects.create(slug="team", name="Team", **PLAN))
    return organization


def create(organization, limits: dict) -> dict:
    key, _ = api_key_create(organization=organization, name="k", scopes=["image"], limits=limits, enforce_role=False)
    return key.limits


def test_a_key_may_tighten_every_limit_of_its_plan(organization):
    tight = {
        "requests_per_minute": 60,
        "concurrent": 1,
        "job_priority": 0,
        "max_running_jobs": 10,
        "requests_per_day": 1000,
        "tokens_per_minute": 5000,
        "credits_per_month": 10**6,
    }
    assert create(subscribed(organization), tight) == tight


@pytest.mark.parametrize(
    ("limits", "param"),
    [
        ({"job_priority": 51}, "limits.job_priority"),
        ({"job_priority": 100}, "limits.job_priority"),
        ({"max_running_jobs": 11}, "limits.max_running_jobs"),
        ({"max_running_jobs": 1000}, "limits.max_running_jobs"),
        ({"requests_per_minute": 61}, "limits.requests_per_minute"),
        ({"concurrent": 5}, "limits.concurrent"),
    ],
)
def test_a_limit_looser_than_the_plan_is_refused_naming_it(organization, limits, param):
    with pytest.raises(InvalidInput, match="tighten") as refused:
        create(subscribed(organization), limits)
    assert refused.value.param == param


@pytest.mark.parametrize(
    ("limits", "param"),
    [({"job_priority": 1}, "limits.job_priority"), ({"max_running_jobs": 5}, "limits.max_running_jobs")],
)
def test_without_a_plan_the_gateway_defaults_are_the_ceiling(organization, limits, param):
    with pytest.raises(InvalidInput) as refused:
        create(organization, limits)
    assert refused.value.param == param
    assert create(organization, {"job_priority": 0, "max_running_jobs": 4}) == {
        "job_priority": 0,
        "max_running_jobs": 4,
    }


@pytest.mark.parametrize(
    ("limits", "param"),
    [
        ({"job_priority": 101}, "limits.job_priority"),
        ({"max_running_jobs": 0}, "limits.max_running_jobs"),
        ({"requests_per_minute": 0}, "limits.requests_per_minute"),
        ({"job_priority": True}, "limits.job_priority"),
        ({"concurrent": "2"}, "limits.concurrent"),
        ({"no_such_limit": 1}, "limits"),
    ],
)
def test_a_limit_out_of_its_range_or_unknown_is_refused(organization, limits, param):
    with pytest.raises(InvalidInput) as refused:
        create(organization, limits)
    assert refused.value.param == param


def test_the_rule_is_one_service_function_edits_can_call(organization):
    subscribed(organization)
    assert api_key_limits_clean(organization=organization, limits={"job_priority": 10}) == {"job_priority": 10}
    with pytest.raises(InvalidInput):
        api_key_limits_clean(organization=organization, limits={"job_priority": 90})
