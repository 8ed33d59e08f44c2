"""Inbound provider callbacks: signed reports finish a running job; unsigned and replayed ones are refused."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from standardwebhooks import Webhook

from jobs.models import Job
from jobs.services import job_create, job_start, webhook_secret_generate

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = webhook_secret_generate()


@pytest.fixture
def callbacks(job_settings):
    job_settings.JOBS_CALLBACK_SECRET = SECRET
    return job_settings


def running_job(organization) -> Job:
    job = job_create(organization_id=organization.id, key_id=None, user_id=None, kind="image", model="flux",
                     params={"prompt": "x"})[0]  # fmt: skip
    return job_start(job_id=str(job.id), attempt=1, worker_id="w")


def signed(body: dict, message_id: str = "msg_1", at: datetime | None = None) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body)
    at = at or datetime.now(tz=UTC)
    signature = Webhook(SECRET).sign(message_id, at, raw)
    headers = {"webhook-id": message_id, "webhook-timestamp": str(int(at.timestamp())),
               "webhook-signature": signature, "content-type": "application/json"}  # fmt: skip
    return raw.encode(), headers


async def test_a_signed_callback_finishes_the_running_job_and_a_replay_is_refused(anonymous, callbacks, organization):
    job = await sync_to_async(running_job)(organization)
    report = {"job_id": f"job-{job.id}", "status": "succeeded", "content_type": "image/png",
              "result_base64": base64.b64encode(b"\x89PNG...").decode()}  # fmt: skip
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
