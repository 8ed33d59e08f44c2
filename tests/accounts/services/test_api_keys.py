"""Per-key limits: the names billing and the job scheduler understand, within their bounds."""

from __future__ import annotations

import pytest

from accounts.exceptions import InvalidInput
from accounts.services import api_key_create, organization_create

pytestmark = pytest.mark.django_db


def create(limits: dict) -> dict:
    organization = organization_create(name="Acme", slug="acme")
    key, _ = api_key_create(organization=organization, name="k", scopes=["image"], limits=limits, enforce_role=False)
    return key.limits


def test_a_key_may_override_its_plans_job_priority_and_running_cap():
    assert create({"job_priority": 100, "max_running_jobs": 1000}) == {"job_priority": 100, "max_running_jobs": 1000}


@pytest.mark.parametrize("limits", [{"job_priority": 101}, {"max_running_jobs": 1001}, {"max_running_jobs": 0},
                                    {"job_priority": True}, {"no_such_limit": 1}])  # fmt: skip
def test_a_limit_out_of_its_range_or_unknown_is_refused(limits):
    with pytest.raises(InvalidInput) as refused:
        create(limits)
    assert refused.value.param == "limits"
