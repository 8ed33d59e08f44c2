"""The Jobs page: the organisation's jobs with filters, cancel and retry, by role."""

from __future__ import annotations

import pytest

from jobs.models import Job
from tests.accounts.factories import organization_create_for_tests


def _job(org, **fields) -> Job:
    return Job.objects.create(organization=org, kind=fields.pop("kind", "image"), model="flux", **fields)


def test_jobs_are_listed_and_filtered_by_status_and_kind(signed_in, org):
    queued = _job(org)
    failed = _job(org, kind="text", status="failed", error={"message": "upstream down"})
    client = signed_in("viewer")
    page = client.get("/jobs/").content.decode()
    assert str(queued.id) in page and str(failed.id) in page and "upstream down" in page
    page = client.get("/jobs/", {"status": "failed"}).content.decode()
    assert str(failed.id) in page and str(queued.id) not in page
    page = client.get("/jobs/", {"kind": "image"}).content.decode()
    assert str(queued.id) in page and str(failed.id) not in page


def test_a_developer_cancels_a_queued_job_and_retries_it(signed_in, org):
    job = _job(org)
    client = signed_in("developer")
    assert f"Cancel job {job.id}" in client.get("/jobs/").content.decode()
    client.post(f"/jobs/{job.id}/cancel/")
    job.refresh_from_db()
    assert job.status == "cancelled"
    client.post(f"/jobs/{job.id}/retry/")
    job.refresh_from_db()
    assert job.status == "queued" and job.attempt == 2


def test_a_viewer_sees_jobs_but_may_not_cancel_them(signed_in, org):
    job = _job(org)
    client = signed_in("viewer")
    assert "Cancel job" not in client.get("/jobs/").content.decode()
    assert client.post(f"/jobs/{job.id}/cancel/").status_code == 403
    job.refresh_from_db()
    assert job.status == "queued"


def test_a_billing_member_cannot_open_the_jobs(signed_in):
    assert signed_in("billing").get("/jobs/").status_code == 403


def test_another_organisations_job_cannot_be_cancelled(signed_in):
    foreign = _job(organization_create_for_tests(slug="globex"))
    response = signed_in("owner").post(f"/jobs/{foreign.id}/cancel/", follow=True)
    assert "No such job in this organisation" in response.content.decode()
    foreign.refresh_from_db()
    assert foreign.status == "queued"


@pytest.mark.parametrize("role", ["owner", "viewer"])
def test_the_jobs_page_answers_in_a_bounded_number_of_queries(signed_in, org, role, django_assert_max_num_queries):
    for _ in range(30):
        _job(org, status="succeeded", result_name="x.png")
    client = signed_in(role)
    with django_assert_max_num_queries(4):
        assert client.get("/jobs/").status_code == 200
