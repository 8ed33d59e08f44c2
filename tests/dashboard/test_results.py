"""Results: the gallery of finished jobs' images, audio and text; download, delete, run again; by role."""

from __future__ import annotations

import json

import pytest
from django.core.files.storage import default_storage

from jobs.models import Job
from tests.accounts.factories import organization_create_for_tests
from tests.jobs.factories import PNG, finished_job_create_for_tests

ANSWER = "Three lighthouses: Fastnet, Eddystone, Pharos."
CHAT_ANSWER = {"choices": [{"message": {"role": "assistant", "content": ANSWER}}]}
CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name lighthouses"}]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def _text_job(org) -> Job:
    return finished_job_create_for_tests(
        organization=org,
        kind="text",
        model="openai",
        params={"model": "openai", "temperature": 0.2, "max_tokens": 64, "messages": CHAT},
        result=json.dumps(CHAT_ANSWER).encode(),
        content_type="application/json",
    )


def test_the_gallery_shows_each_result_with_its_prompt_model_and_seed(signed_in, org):
    image = finished_job_create_for_tests(organization=org)
    _text_job(org)
    speech = finished_job_create_for_tests(
        organization=org,
        kind="speech",
        model="openai-audio",
        params={"input": "Hello there", "voice": "nova"},
        result=b"ID3 audio",
        content_type="audio/mpeg",
    )
    page = signed_in("viewer").get("/results/").content.decode()
    assert f'src="/results/{image.id}/file/"' in page and "a lighthouse at dusk" in page and ">42<" in page
    assert "Name lighthouses" in page and "Fastnet, Eddystone, Pharos." in page and "openai" in page
    assert f'<audio controls preload="none" src="/results/{speech.id}/file/"' in page and "Hello there" in page


def test_the_gallery_filters_by_kind(signed_in, org):
    image = finished_job_create_for_tests(organization=org)
    text = _text_job(org)
    page = signed_in("developer").get("/results/", {"kind": "text"}).content.decode()
    assert str(text.id) in page and str(image.id) not in page


def test_unfinished_jobs_and_deleted_results_are_not_in_the_gallery(signed_in, org):
    queued = Job.objects.create(organization=org, kind="image", model="flux")
    page = signed_in("viewer").get("/results/").content.decode()
    assert str(queued.id) not in page and "No results" in page


def test_an_image_is_shown_in_place_and_downloaded_as_a_file(signed_in, org):
    job = finished_job_create_for_tests(organization=org)
    client = signed_in("viewer")
    shown = client.get(f"/results/{job.id}/file/")
    assert shown.status_code == 200 and shown["Content-Type"] == "image/png"
    assert b"".join(shown.streaming_content) == PNG and "attachment" not in shown.get("Content-Disposition", "")
    downloaded = client.get(f"/results/{job.id}/download/")
    assert downloaded["Content-Disposition"] == f'attachment; filename="image-{job.id}.png"'
    assert b"".join(downloaded.streaming_content) == PNG


def test_a_result_that_is_not_an_image_or_audio_is_only_ever_a_download(signed_in, org):
    job = finished_job_create_for_tests(
        organization=org, kind="text", result=b"<script>x</script>", content_type="text/html"
    )
    response = signed_in("viewer").get(f"/results/{job.id}/file/")
    assert response["Content-Disposition"].startswith("attachment;")


def test_a_developer_deletes_a_result_and_its_file(signed_in, org, django_capture_on_commit_callbacks):
    job = finished_job_create_for_tests(organization=org)
    name = job.result_name
    client = signed_in("developer")
    with django_capture_on_commit_callbacks(execute=True):  # the file goes once the deletion is committed
        response = client.post(f"/results/{job.id}/delete/", {"kind": "image", "page": "1"}, follow=True)
    assert response.redirect_chain[-1][0] == "/results/?kind=image&page=1"
    assert "The result and its file are deleted." in response.content.decode()
    job.refresh_from_db()
    assert job.result_name == "" and not default_storage.exists(name)


def test_a_viewer_is_not_offered_delete_and_a_forged_post_is_refused(signed_in, org):
    job = finished_job_create_for_tests(organization=org)
    client = signed_in("viewer")
    page = client.get("/results/").content.decode()
    assert "Delete result" not in page and "Run job" not in page and "Download result" in page
    assert client.post(f"/results/{job.id}/delete/").status_code == 403
    assert default_storage.exists(job.result_name)


def test_a_billing_member_cannot_open_the_results(signed_in, org):
    job = finished_job_create_for_tests(organization=org)
    client = signed_in("billing")
    assert client.get("/results/").status_code == 403
    assert client.get(f"/results/{job.id}/download/").status_code == 403


def test_another_organisations_result_is_not_found(signed_in, org):
    foreign = finished_job_create_for_tests(organization=organization_create_for_tests(slug="globex"))
    client = signed_in("owner")
    assert str(foreign.id) not in client.get("/results/").content.decode()
    assert client.get(f"/results/{foreign.id}/file/").status_code == 404
    assert client.get(f"/results/{foreign.id}/download/").status_code == 404
    response = client.post(f"/results/{foreign.id}/delete/", follow=True)
    assert "No such result in this organisation" in response.content.decode()
    assert default_storage.exists(foreign.result_name)


def test_run_again_opens_the_playground_with_the_same_image_parameters(signed_in, org):
    job = finished_job_create_for_tests(
        organization=org, params={"prompt": "a red fox", "model": "flux", "seed": 7, "size": "512x512"}
    )
    client = signed_in("developer")
    assert f'href="/playground/?job={job.id}#image"' in client.get("/results/").content.decode()
    page = client.get("/playground/", {"job": str(job.id)}).content.decode()
    assert 'name="prompt" rows="2" required>a red fox</textarea>' in page
    assert 'name="seed" type="number" min="-1" max="2147483647" placeholder="random" value="7"' in page
    assert "<option selected>512x512</option>" in page


def test_run_again_fills_in_a_chat_with_its_system_prompt_message_and_settings(signed_in, org):
    job = _text_job(org)
    page = signed_in("developer").get("/playground/", {"job": str(job.id)}).content.decode()
    assert ">Be brief.</textarea>" in page and ">Name lighthouses</textarea>" in page
    assert 'name="temperature" type="number" min="0" max="2" step="0.1" value="0.2"' in page
    assert 'value="64"' in page


def test_run_again_with_another_organisations_job_fills_in_nothing(signed_in, org):
    foreign = finished_job_create_for_tests(
        organization=organization_create_for_tests(slug="globex"), params={"prompt": "their secret prompt"}
    )
    page = signed_in("owner").get("/playground/", {"job": str(foreign.id)}).content.decode()
    assert "their secret prompt" not in page and "No such job in this organisation" in page


def test_the_gallery_is_paginated(signed_in, org):
    jobs = [finished_job_create_for_tests(organization=org) for _ in range(26)]
    client = signed_in("viewer")
    first = client.get("/results/").content.decode()
    assert "Page 1 of 2" in first and str(jobs[-1].id) in first and str(jobs[0].id) not in first
    second = client.get("/results/", {"page": "2"}).content.decode()
    assert str(jobs[0].id) in second and str(jobs[-1].id) not in second


@pytest.mark.parametrize("role", ["owner", "viewer"])
def test_the_results_page_answers_in_a_bounded_number_of_queries(signed_in, org, role, django_assert_max_num_queries):
    for _ in range(30):
        finished_job_create_for_tests(organization=org)
    for _ in range(5):
        _text_job(org)
    client = signed_in(role)
    # Session, user, memberships, the count and the page of results.
    with django_assert_max_num_queries(5):
        assert client.get("/results/").status_code == 200
