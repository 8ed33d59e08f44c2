"""/v1/jobs through the real ASGI app; attempts executed in-process (the worker tests use real processes)."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.core.files.storage import default_storage
from django.utils import timezone

from accounts.services import api_key_create, organization_create
from jobs.execution import job_execute
from jobs.models import Job
from jobs.services import expired_files_purge
from tests.jobs.test_netguard import PROBED_URLS

pytestmark = pytest.mark.django_db(transaction=True)

IMAGE = {"kind": "image", "request": {"prompt": "a red bicycle", "model": "flux", "size": "256x256"}}


async def run_next_attempt(job_id: str) -> str:
    job = await Job.objects.aget(id=job_id)
    return await job_execute(job_id=job_id, attempt=job.attempt, worker_id="test")


async def test_submitting_a_job_answers_202_with_its_id_and_links_at_once(client, job_settings):
    response = await client.post("/v1/jobs", json=IMAGE)
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued" and body["object"] == "job"
    assert body["links"]["self"] == f"http://testserver/v1/jobs/{body['id']}"
    assert response.headers["location"] == body["links"]["self"]


async def test_an_executed_image_job_has_a_signed_result_url_that_serves_the_image(client, job_settings):
    job_id = (await client.post("/v1/jobs", json=IMAGE)).json()["id"]
    assert await run_next_attempt(job_id) == "succeeded"
    body = (await client.get(f"/v1/jobs/{job_id}")).json()
    assert body["status"] == "succeeded" and body["progress"] == 100
    result = body["result"]
    assert result["content_type"].startswith("image/")
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as anonymous:
        image = await anonymous.get(result["url"])
    assert image.status_code == 200 and image.content[:2] == b"\xff\xd8"
    assert len(image.content) == result["bytes"]


async def test_a_tampered_or_expired_result_url_is_refused(client, job_settings):
    job_id = (await client.post("/v1/jobs", json=IMAGE)).json()["id"]
    await run_next_attempt(job_id)
    url = (await client.get(f"/v1/jobs/{job_id}")).json()["result"]["url"]
    tampered = url.replace("expires=", "expires=9")
    assert (await client.get(tampered)).status_code == 403
    assert (await client.get(url.split("&signature")[0] + "&signature=x")).status_code == 403
    # "²" passes str.isdigit() but not int(): a refusal, not a 500 (no key is needed to try).
    superscript = re.sub(r"expires=\d+", "expires=%C2%B2", url)
    assert (await client.get(superscript)).status_code == 403


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
async def test_a_result_url_answers_only_get_and_head(client, job_settings, method):
    """Like an image link, the file is only read through it (it was served to any method)."""
    _, url = await finished_job_with_result_url(client)
    refused = await client.request(method, url)
    assert (refused.status_code, refused.headers.get("Allow")) == (405, "GET, HEAD")
    assert refused.json()["error"]["code"] == "method_not_allowed"


async def finished_job_with_result_url(client) -> tuple[str, str]:
    job_id = (await client.post("/v1/jobs", json=IMAGE)).json()["id"]
    assert await run_next_attempt(job_id) == "succeeded"
    return job_id, (await client.get(f"/v1/jobs/{job_id}")).json()["result"]["url"]


def assert_not_found(response: httpx.Response, code: str) -> None:
    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["type"] == "not_found_error" and error["message"]


async def test_a_job_purged_after_its_retention_is_a_404_and_so_is_its_unexpired_result_url(client, job_settings):
    job_id, url = await finished_job_with_result_url(client)
    stored = (await Job.objects.aget(id=job_id)).result_name
    past_retention = timezone.now() - timedelta(days=job_settings.JOBS_RETENTION_DAYS + 1)
    await Job.objects.filter(id=job_id).aupdate(finished_at=past_retention)
    assert (await sync_to_async(expired_files_purge)()).jobs == 1
    assert not default_storage.exists(stored)
    assert_not_found(await client.get(f"/v1/jobs/{job_id}"), "job_not_found")
    assert_not_found(await client.get(url), "result_not_found")


async def test_a_result_url_whose_file_is_no_longer_stored_is_a_404_not_a_server_error(client, job_settings):
    job_id, url = await finished_job_with_result_url(client)
    default_storage.delete((await Job.objects.aget(id=job_id)).result_name)
    assert_not_found(await client.get(url), "result_not_found")


async def test_text_and_speech_jobs_store_the_synchronous_endpoints_answer(client, job_settings):
    text = {"kind": "text", "request": {"messages": [{"role": "user", "content": "hi"}]}}
    speech = {"kind": "speech", "request": {"input": "hello", "voice": "alloy"}}
    for payload, content_type in ((text, "application/json"), (speech, "audio/")):
        job_id = (await client.post("/v1/jobs", json=payload)).json()["id"]
        assert await run_next_attempt(job_id) == "succeeded"
        body = (await client.get(f"/v1/jobs/{job_id}")).json()
        assert body["result"]["content_type"].startswith(content_type)
        assert body["usage"] is not None or payload is speech


async def test_the_same_idempotency_key_returns_the_same_job_and_a_different_body_is_refused(client, job_settings):
    headers = {"Idempotency-Key": "order-42"}
    first = await client.post("/v1/jobs", json=IMAGE, headers=headers)
    again = await client.post("/v1/jobs", json=IMAGE, headers=headers)
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    other = {**IMAGE, "request": {**IMAGE["request"], "prompt": "a blue bicycle"}}
    conflict = await client.post("/v1/jobs", json=other, headers=headers)
    assert conflict.status_code == 422
    assert conflict.json()["error"]["code"] == "idempotency_key_reused"
    assert await Job.objects.acount() == 1


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({"kind": "video", "request": {}}, "kind"),
        ({"kind": "image"}, "request"),
        ({"kind": "image", "request": {"size": "1x1"}}, "request.size"),
        ({"kind": "image", "request": {}}, "request.prompt"),
        (
            {"kind": "text", "request": {"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}},
            "request.temperature",
        ),
        ({**IMAGE, "webhook": {"url": "http://h/x", "secret": "no"}}, "webhook.secret"),  # pragma: allowlist secret
    ],
)
async def test_invalid_submissions_are_refused_naming_the_field(client, job_settings, payload, param):
    response = await client.post("/v1/jobs", json=payload)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


async def test_a_key_without_the_image_scope_cannot_submit_an_image_job(client, job_settings, amake_key):
    text_only = await amake_key(scopes=("text",))
    response = await client.post("/v1/jobs", json=IMAGE, headers={"Authorization": f"Bearer {text_only}"})
    assert response.status_code == 403


async def test_a_webhook_to_a_private_address_is_refused_at_submission(client, gateway_settings):
    gateway_settings.WEBHOOKS_ALLOW_PRIVATE = False
    response = await client.post("/v1/jobs", json={**IMAGE, "webhook": {"url": "http://10.0.0.1/hook"}})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unsafe_webhook_url"


@pytest.mark.parametrize("url", PROBED_URLS)
async def test_a_webhook_url_that_means_a_private_address_is_a_400_naming_the_field(client, job_settings, url):
    job_settings.WEBHOOKS_ALLOW_PRIVATE = False
    response = await client.post("/v1/jobs", json={**IMAGE, "webhook": {"url": url}})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "webhook.url"
    assert response.json()["error"]["code"] == "unsafe_webhook_url"
    assert not await Job.objects.aexists()


async def test_a_multipart_job_webhook_url_is_checked_by_the_same_validator(client, job_settings):
    job_settings.WEBHOOKS_ALLOW_PRIVATE = False
    form = {"kind": "transcription", "webhook_url": "http://0x7f000001/x"}
    response = await client.post("/v1/jobs", data=form, files={"file": ("a.wav", b"RIFF0000WAVE", "audio/wav")})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "webhook_url"
    assert response.json()["error"]["code"] == "unsafe_webhook_url"


async def test_a_malformed_webhook_url_is_a_400_not_a_500(client, job_settings):
    response = await client.post("/v1/jobs", json={**IMAGE, "webhook": {"url": "http://exa mple.com:x/"}})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "webhook.url"


async def test_jobs_are_listed_newest_first_with_filters_and_pagination(client, job_settings):
    ids = [(await client.post("/v1/jobs", json=IMAGE)).json()["id"] for _ in range(3)]
    await client.delete(f"/v1/jobs/{ids[0]}")
    page = (await client.get("/v1/jobs?limit=2")).json()
    assert [j["id"] for j in page["data"]] == [ids[2], ids[1]] and page["has_more"]
    rest = (await client.get("/v1/jobs", params={"limit": 2, "before": page["next_before"]})).json()
    assert [j["id"] for j in rest["data"]] == [ids[0]] and not rest["has_more"]
    cancelled = (await client.get("/v1/jobs?status=cancelled")).json()["data"]
    assert [j["id"] for j in cancelled] == [ids[0]]
    assert (await client.get("/v1/jobs?status=nope")).status_code == 400


@pytest.mark.parametrize(
    "before", ["yesterday", "0999-12-10T11:29:15+23:00", "0001-01-01T00:00:00+01:00", "1999-12-31T23:59:59"]
)
async def test_a_before_cursor_that_is_no_job_time_is_a_400(client, job_settings, before):
    response = await client.get("/v1/jobs", params={"before": before})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "before"


async def test_a_before_cursor_with_an_offset_is_read_in_utc(client, job_settings):
    job_id = (await client.post("/v1/jobs", json=IMAGE)).json()["id"]
    listed = (await client.get("/v1/jobs", params={"before": "2999-01-01T10:00:00+05:00"})).json()["data"]
    assert [job["id"] for job in listed] == [job_id]


async def test_another_organisations_job_is_not_found(client, job_settings):
    job_id = (await client.post("/v1/jobs", json=IMAGE)).json()["id"]

    def other_key() -> str:
        other = organization_create(name="Other", slug="other")
        return api_key_create(organization=other, name="k", scopes=("image",))[1]

    headers = {"Authorization": f"Bearer {await sync_to_async(other_key)()}"}
    assert (await client.get(f"/v1/jobs/{job_id}", headers=headers)).status_code == 404
    assert (await client.delete(f"/v1/jobs/{job_id}", headers=headers)).status_code == 404
    assert (await client.get("/v1/jobs", headers=headers)).json()["data"] == []


async def test_a_cancelled_queued_job_is_never_run_and_cannot_be_cancelled_twice(client, job_settings):
    job_id = (await client.post("/v1/jobs", json=IMAGE)).json()["id"]
    response = await client.delete(f"/v1/jobs/{job_id}")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert await run_next_attempt(job_id) == "skipped"
    assert (await client.delete(f"/v1/jobs/{job_id}")).status_code == 409


async def test_jobs_need_an_api_key(anonymous):
    assert (await anonymous.post("/v1/jobs", json=IMAGE)).status_code == 401
    assert (await anonymous.get("/v1/jobs")).status_code == 401


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data",  # no boundary
        "multipart/form-data; boundary=",
    ],
)
async def test_a_multipart_job_whose_body_cannot_be_parsed_is_a_400_not_a_500(client, job_settings, content_type):
    response = await client.post("/v1/jobs", content=b"--x\r\n", headers={"Content-Type": content_type})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_multipart"
    assert not await Job.objects.aexists()


async def test_a_multipart_job_with_an_undecodable_part_is_a_400_not_a_500(client, job_settings):
    body = (
        b'--xx\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64\r\n--xx--\r\n"
    )
    response = await client.post("/v1/jobs", content=body, headers={"Content-Type": "multipart/form-data; boundary=xx"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_multipart"


async def test_a_multipart_job_field_sent_twice_is_a_400_naming_it(client, job_settings):
    """The upload is stored and forwarded as sent: the model checked must be the only one in it."""
    parts = [
        ("kind", (None, "transcription")),
        ("model", (None, "whisper-1")),
        ("model", (None, "whisper-large-v3")),
        ("file", ("a.wav", b"RIFF0000WAVE", "audio/wav")),
    ]
    response = await client.post("/v1/jobs", files=parts)
    assert response.status_code == 400, response.text
    assert (response.json()["error"]["code"], response.json()["error"]["param"]) == ("invalid_value", "model")
    assert not await Job.objects.aexists()


async def test_an_idempotency_key_longer_than_can_be_stored_is_a_400_naming_the_header(client, job_settings):
    response = await client.post("/v1/jobs", json=IMAGE, headers={"Idempotency-Key": "k" * 256})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "Idempotency-Key"
    assert not await Job.objects.aexists()
    accepted = await client.post("/v1/jobs", json=IMAGE, headers={"Idempotency-Key": "k" * 255})
    assert accepted.status_code == 202, accepted.text


async def test_a_multipart_job_content_type_longer_than_can_be_stored_is_a_400_not_a_500(client, job_settings):
    body = (
        b'--xx\r\nContent-Disposition: form-data; name="kind"\r\n\r\ntranscription\r\n'
        b'--xx\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nRIFF0000WAVE\r\n--xx--\r\n'
    )
    content_type = "multipart/form-data; boundary=xx; note=" + "n" * 200
    response = await client.post("/v1/jobs", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_content_type"
    assert not await Job.objects.aexists()


@pytest.mark.parametrize(
    "url", ["https://example.com/\x00hook", "https://example.com/\x7fhook", "https://example.com/a\tb"]
)
async def test_a_webhook_url_with_a_control_character_is_a_400_not_a_database_error(client, job_settings, url):
    response = await client.post("/v1/jobs", json={**IMAGE, "webhook": {"url": url}})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "webhook.url"
    assert not await Job.objects.aexists()


@pytest.mark.parametrize(
    "secret",
    [
        "whsec_",  # nothing to sign with
        "whsec_\x00",
        "whsec_!!!notbase64",
        "whsec_abcde",  # not a whole number of base64 quanta
    ],
)
async def test_a_job_webhook_secret_that_cannot_sign_is_refused_at_submission(client, job_settings, secret):
    response = await client.post(
        "/v1/jobs", json={**IMAGE, "webhook": {"url": "https://example.com/h", "secret": secret}}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "webhook.secret"
    assert not await Job.objects.aexists()


async def test_a_job_webhook_secret_in_the_standard_form_is_accepted(client, job_settings):
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # pragma: allowlist secret
    response = await client.post(
        "/v1/jobs", json={**IMAGE, "webhook": {"url": "https://example.com/h", "secret": secret}}
    )
    assert response.status_code == 202, response.text


@pytest.mark.parametrize("limit", ["²", "¹⁰", "x", "-1", "0", "101", "100000000000000000000"])
async def test_a_job_list_limit_that_is_not_a_plain_number_from_1_to_100_is_a_400(client, job_settings, limit):
    response = await client.get("/v1/jobs", params={"limit": limit})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "limit"
