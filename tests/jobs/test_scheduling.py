"""A job's queue priority and its organisation's running cap come from the plan, a key may override them,
and ``JOBS_MAX_RUNNING_PER_ORG`` applies without either."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from accounts.exceptions import InvalidInput
from accounts.services import api_key_create, organization_create
from jobs import queue, services
from jobs.execution import job_execute
from jobs.models import Job

pytestmark = pytest.mark.django_db(transaction=True)

IMAGE = {"kind": "image", "request": {"prompt": "a red bicycle", "model": "flux", "size": "256x256"}}


async def submit(client, api_key: str | None = None) -> Job:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    response = await client.post("/v1/jobs", json=IMAGE, headers=headers)
    assert response.status_code == 202
    return await Job.objects.aget(id=response.json()["id"])


def other_organization_key(subscribe_to, plan) -> str:
    organization = organization_create(name="Globex", slug="globex")
    subscribe_to(plan, organization)
    return api_key_create(organization=organization, name="k", scopes=("image",), enforce_role=False)[1]


async def next_job_to_run() -> str:
    entry = await DBTaskResult.objects.ready().filter(task_path=queue.JOB_RUN).afirst()
    return entry.args_kwargs["args"][0]


async def test_the_plan_with_the_higher_job_priority_runs_first_across_organisations(
    client, job_settings, make_plan, subscribe
):
    await sync_to_async(subscribe)(await sync_to_async(make_plan)("basic"))
    priority = await sync_to_async(make_plan)("priority", job_priority=50)
    other = await sync_to_async(other_organization_key)(subscribe, priority)
    earlier = await submit(client)
    later = await submit(client, other)
    assert (earlier.priority, later.priority) == (0, 50)
    assert await next_job_to_run() == str(later.id)


async def test_a_key_may_lower_its_plans_job_priority(client, job_settings, amake_key, make_plan, subscribe):
    await sync_to_async(subscribe)(await sync_to_async(make_plan)(job_priority=50))
    background = await amake_key(limits={"job_priority": 10})
    assert (await submit(client)).priority == 50
    assert (await submit(client, background)).priority == 10


async def test_a_key_made_before_a_downgrade_never_jumps_above_the_plan(
    client, job_settings, amake_key, make_plan, subscribe
):
    plan = await sync_to_async(make_plan)(job_priority=90, max_running_jobs=8)
    await sync_to_async(subscribe)(plan)
    key = await amake_key(limits={"job_priority": 90, "max_running_jobs": 8})
    plan.job_priority, plan.max_running_jobs = 5, 2
    await plan.asave()
    job = await submit(client, key)
    assert (job.priority, job.max_running) == (5, 2)


async def test_the_plans_running_cap_holds_and_no_key_may_raise_it(
    client, job_settings, amake_key, make_plan, subscribe
):
    await sync_to_async(subscribe)(await sync_to_async(make_plan)(max_running_jobs=1))
    first, second = await submit(client), await submit(client)
    assert (first.max_running, second.max_running) == (1, 1)
    assert await sync_to_async(services.job_start)(job_id=str(first.id), attempt=1, worker_id="w1") is not None
    assert await sync_to_async(services.job_start)(job_id=str(second.id), attempt=1, worker_id="w2") is None
    waiting = await Job.objects.aget(id=second.id)
    assert waiting.status == "queued" and waiting.run_after is not None
    with pytest.raises(InvalidInput) as refused:
        await amake_key(limits={"max_running_jobs": 3})
    assert refused.value.param == "limits.max_running_jobs"


async def test_without_a_plan_the_gateway_default_cap_applies(client, job_settings):
    job_settings.JOBS_MAX_RUNNING_PER_ORG = 7
    job = await submit(client)
    assert (job.priority, job.max_running) == (0, 7)


async def test_a_job_whose_worker_died_after_claiming_it_and_before_starting_it_is_queued_again(client, job_settings):
    job = await submit(client)
    # What a worker's claim leaves when it is killed before job_start commits: the entry RUNNING, the job queued.
    claimed_at = timezone.now() - timedelta(seconds=job_settings.JOBS_LEASE_SECONDS + 1)
    await DBTaskResult.objects.filter(id=job.task_id).aupdate(status=TaskResultStatus.RUNNING, started_at=claimed_at)
    assert await sync_to_async(services.job_reap)() == 1
    requeued = await Job.objects.aget(id=job.id)
    assert (requeued.status, requeued.attempt) == ("queued", 1) and requeued.task_id != job.task_id
    assert (await DBTaskResult.objects.aget(id=job.task_id)).status == TaskResultStatus.FAILED
    assert await next_job_to_run() == str(job.id)
    assert await sync_to_async(services.job_reap)() == 0  # once


async def test_a_failed_attempt_whose_upstream_said_when_to_retry_waits_that_long_not_the_backoff(client, job_settings):
    response = await client.post("/v1/jobs", json=IMAGE, headers={"X-Sim-Fault": "status=503;retry-after=26"})
    job_id = response.json()["id"]
    assert await job_execute(job_id=job_id, attempt=1, worker_id="test") == "failed"
    job = await Job.objects.aget(id=job_id)
    assert (job.status, job.attempt) == ("queued", 2)
    assert (job.run_after - timezone.now()).total_seconds() > 20  # the backoff alone would be 2 s
