"""End to end: a real simulator process in callback mode reports to a real gateway process, whose
``/v1/jobs/callbacks/pollinations`` finishes the running job; forged, tampered, stale and replayed
callbacks are refused by that same process and change nothing."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from django.core.files.storage import default_storage

from billing.models import UsageEvent
from jobs.models import Job
from jobs.services import job_create, job_start, webhook_secret_generate
from simulator.callbacks import signed_headers
from tests.accounts.factories import organization_create_for_tests
from tests.fixtures.gateway_server import database_url_of_test_db, run_gateway
from tests.fixtures.simulator_server import run_simulator
from tests.jobs.conftest import wait_for
from tests.simulator.conftest import SECRET_KEY

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
SECRET = webhook_secret_generate()


@pytest.fixture
def gateway(job_settings) -> Iterator[str]:
    env = {
        "DATABASE_URL": database_url_of_test_db(),
        "JOBS_CALLBACK_SECRET": SECRET,
        "MEDIA_ROOT": str(job_settings.MEDIA_ROOT),
        "SECRET_KEY": job_settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEY": job_settings.FIELD_ENCRYPTION_KEY,
    }
    with run_gateway(env) as url:
        yield url


@pytest.fixture
def simulator() -> Iterator[httpx.Client]:
    with (
        run_simulator({"SIM_CALLBACK_SECRET": SECRET}) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {SECRET_KEY}"}, timeout=10) as client,
    ):
        yield client


def running_job() -> Job:
    organization = organization_create_for_tests()
    job = job_create(
        organization_id=organization.id, key_id=None, user_id=None, kind="image", model="flux", params={"prompt": "x"}
    )[0]
    return job_start(job_id=str(job.id), attempt=1, worker_id="elsewhere")


def test_the_simulators_callback_finishes_the_running_job_in_the_gateway(gateway, simulator):
    job = running_job()
    answer = simulator.post(
        "/v1/images/generations",
        json={"prompt": "a lighthouse", "model": "flux", "response_format": "b64_json"},
        headers={"X-Sim-Callback": f"{gateway}/v1/jobs/callbacks/pollinations", "X-Request-ID": job.request_id},
    )
    assert answer.status_code == 200
    finished = wait_for(lambda: Job.objects.filter(id=job.id, status="succeeded").first(), timeout=15)
    image = base64.b64decode(answer.json()["data"][0]["b64_json"])  # stored as the image, like the worker does
    assert (finished.provider, finished.result_bytes, finished.progress) == ("callback", len(image), 100)
    assert finished.result_content_type == "image/jpeg" and finished.charged_at is not None
    with default_storage.open(finished.result_name, "rb") as stored:
        assert stored.read() == image
    charged = wait_for(lambda: list(UsageEvent.objects.filter(organization_id=job.organization_id)), timeout=15)
    assert [(e.request_id, e.images, e.status) for e in charged] == [(job.request_id, 1, 200)]
    sent = wait_for(lambda: simulator.get("/_sim/callbacks").json()["callbacks"])
    assert (sent[0]["job_id"], sent[0]["response_status"]) == (job.request_id, 200)


def _report(job: Job, status: str = "failed") -> bytes:
    return json.dumps({"job_id": job.request_id, "status": status, "error": "forged"}).encode()


def test_unsigned_tampered_stale_wrongly_signed_and_replayed_callbacks_are_refused(gateway):
    job = running_job()
    url = f"{gateway}/v1/jobs/callbacks/pollinations"
    body = _report(job)
    good = signed_headers(SECRET, body)
    attempts = {
        "unsigned": (body, {"content-type": "application/json"}),
        "tampered": (body.replace(b"forged", b"forgeD"), good),
        "stale": (body, signed_headers(SECRET, body, timestamp=int(time.time()) - 600)),
        "other secret": (body, signed_headers("whsec_" + base64.b64encode(b"x" * 24).decode(), body)),
    }
    with httpx.Client(timeout=10) as http:
        for name, (content, headers) in attempts.items():
            response = http.post(url, content=content, headers=headers)
            assert (name, response.status_code, response.json()["error"]["code"]) == (name, 401, "callback_refused")
        assert Job.objects.get(id=job.id).status == "running"
        captured = signed_headers(SECRET, body)
        first = http.post(url, content=body, headers=captured)
        replay = http.post(url, content=body, headers=captured)
    assert (first.status_code, first.json()) == (200, {"status": "failed"})
    assert replay.status_code == 401
