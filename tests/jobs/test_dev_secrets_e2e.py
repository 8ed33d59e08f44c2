"""Under the development defaults (no SECRET_KEY, no FIELD_ENCRYPTION_KEY), a web process and a
worker process started separately share the secrets kept in DEV_SECRETS_FILE, so the webhook
secret the web process encrypts is one the worker can decrypt and sign with."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx
import pytest
from standardwebhooks import Webhook

from tests.conftest import ROOT
from tests.fixtures.gateway_server import run_gateway
from tests.jobs.conftest import HARNESS, database_url_for_workers, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

IMAGE = {"kind": "image", "request": {"prompt": "a red bicycle", "model": "flux", "size": "256x256"}}


def test_a_web_and_a_worker_process_under_dev_defaults_deliver_a_signed_webhook(
    job_settings, upstream_url, api_key, receiver, tmp_path
):
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY", "DJANGO_ENV")},
        "DEV_SECRETS_FILE": str(tmp_path / "dev-secrets.json"),
        "DATABASE_URL": database_url_for_workers(),
        "POLLINATIONS_GEN_URL": upstream_url,
        "POLLINATIONS_IMAGE_URL": f"{upstream_url}/legacy/image",
        "POLLINATIONS_TEXT_URL": f"{upstream_url}/legacy/text",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "WEBHOOKS_ALLOW_PRIVATE": "true",
        "MCP_TEST_USAGE_LOG": str(tmp_path / "usage.log"),
        "LOG_LEVEL": "WARNING",
    }
    # The worker starts first and on its own, so each process draws or reads the secrets by itself.
    worker = subprocess.Popen([sys.executable, str(HARNESS)], cwd=ROOT, env=env, start_new_session=True)
    try:
        with run_gateway(env) as url:
            submitted = httpx.post(
                f"{url}/v1/jobs",
                json={**IMAGE, "webhook": {"url": receiver.url}},
                headers={"Authorization": f"Bearer {api_key}"},
                timeout=30,
            )
            assert submitted.status_code == 202, submitted.text
            secret = submitted.json()["webhook_secret"]
            wait_for(lambda: receiver.requests, timeout=60)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(10)
    headers, body, _ = receiver.requests[0]
    event = Webhook(secret).verify(body, headers)
    assert event["type"] == "job.succeeded" and event["data"]["id"] == submitted.json()["id"]
    assert oct((tmp_path / "dev-secrets.json").stat().st_mode & 0o777) == "0o600"
