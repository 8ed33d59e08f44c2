"""Inbound provider callbacks: signed reports finish a running job; unsigned and replayed ones are refused."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from standardwebhooks import Webhook

from billing.models import Price
from jobs.models import Job
from jobs.services import job_create, job_start, webhook_secret_generate
from tests.billing.conftest import _clean_billing_state, ledger_events, settle_and_flush  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = webhook_secret_generate()


@pytest.fixture
def callbacks(job_settings):
    job_settings.JOBS_CALLBACK_SECRET = SECRET
    return job_settings


def running_job(organization) -> Job:
    job = job_create(
        organization_id=organization.id, key_id=None, user_id=None, kind="image", model="flux", params={"prompt": "x"}
    )[0]
    return job_start(job_id=str(job.id), attempt=1, worker_id="w")


def signed(body: dict, message_id: str = "msg_1", at: datetime | None = None) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body)
    at = at or datetime.now(tz=UTC)
    signature = Webhook(SECRET).sign(message_id, at, raw)
    headers = {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }
    return raw.encode(), headers


async def test_a_signed_callback_finishes_the_running_job_and_a_replay_is_refused(anonymous, callbacks, organization):
    job = await sync_to_async(running_job)(organization)
    report = {
        "job_id": f"job-{job.id}",
        "status": "succeeded",
        "content_type": "image/png",
        "result_base64": base64.b64encode(b"\x89PNG...").decode(),
    }
    body, headers = signed(report)
    response = await anonymous.post("/v1/jobs/callbacks/simulator", content=body, headers=headers)
    assert response.status_code == 200 and response.json() == {"status": "succeeded"}
    finished = await Job.objects.aget(id=job.id)
    assert finished.status == "succeeded" and finished.result_content_type == "image/png"
    replay = await anonymous.post("/v1/jobs/callbacks/simulator", content=body, headers=headers)
    assert replay.status_code == 401


@pytest.mark.parametrize("tamper", ["unsigned", "wrong-signature", "too-old"])
async def test_unsigned_wrongly_signed_or_stale_callbacks_are_refused(anonymous, callbacks, organization, tamper):
    job = await sync_to_async(running_job)(organization)
    at = datetime.now(tz=UTC) - timedelta(minutes=10) if tamper == "too-old" else None
    body, headers = signed({"job_id": str(job.id), "status": "failed"}, at=at)
    if tamper == "unsigned":
        headers.pop("webhook-signature")
    if tamper == "wrong-signature":
        headers["webhook-signature"] = "v1,AAAA"
    response = await anonymous.post("/v1/jobs/callbacks/simulator", content=body, headers=headers)
    assert response.status_code == 401
    assert (await Job.objects.aget(id=job.id)).status == "running"


async def test_a_callback_finished_image_job_is_stored_decoded_and_billed_once(anonymous, callbacks, organization):
    await sync_to_async(Price.objects.create)(model="flux", per_image=1_000_000)
    job = await sync_to_async(running_job)(organization)
    envelope = json.dumps({"data": [{"b64_json": base64.b64encode(b"\xff\xd8\xff a jpeg").decode()}]}).encode()
    report = {
        "job_id": f"job-{job.id}",
        "status": "succeeded",
        "content_type": "application/json",
        "result_base64": base64.b64encode(envelope).decode(),
    }
    for message_id in ("msg_a", "msg_b"):  # the provider reports twice (two deliveries of one result)
        body, headers = signed(report, message_id=message_id)
        assert (await anonymous.post("/v1/jobs/callbacks/simulator", content=body, headers=headers)).status_code == 200
    finished = await Job.objects.aget(id=job.id)
    assert (finished.result_content_type, finished.result_bytes) == ("image/jpeg", len(b"\xff\xd8\xff a jpeg"))
    assert finished.charged_at is not None
    await settle_and_flush()
    events = await ledger_events()
    assert [(e.request_id, e.images, e.cost, e.usage_source) for e in events] == [
        (job.request_id, 1, 1_000_000, "estimated")
    ]


async def test_with_the_shared_cache_down_a_callback_is_refused_for_a_retry_and_changes_nothing(
    anonymous, callbacks, organization, unreachable_cache
):
    """Each message is accepted once by its id in the shared cache: without it, no callback is accepted."""
    job = await sync_to_async(running_job)(organization)
    body, headers = signed({"job_id": f"job-{job.id}", "status": "failed"})
    response = await anonymous.post("/v1/jobs/callbacks/simulator", content=body, headers=headers)
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.json()["error"]["code"] == "callback_unavailable"
    assert (await Job.objects.aget(id=job.id)).status == "running"
