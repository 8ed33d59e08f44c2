"""Results in Chromium: a finished image job's result is seen, downloaded, run again and deleted; by role."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.dashboard.browser import sign_in
from tests.fixtures.accessibility import accessibility_violations

pytestmark = pytest.mark.slow


def _finished_image_job(site, prompt: str, seed: int) -> str:
    """An image job submitted through ``/v1/jobs`` and run to its end by a worker; returns its id."""
    from scripts.local_processes import manage

    submitted = httpx.post(
        f"{site.url}/v1/jobs",
        headers={"Authorization": f"Bearer {site.api_key}"},
        json={"kind": "image", "request": {"prompt": prompt, "model": "flux", "seed": seed, "size": "512x512"}},
        timeout=10,
    )
    assert submitted.status_code in (200, 201, 202), submitted.text
    job_id = submitted.json()["id"]
    manage(["db_worker", "--batch", "--no-startup-delay"], site.env)  # runs what is queued, then exits
    job = httpx.get(f"{site.url}/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {site.api_key}"}, timeout=10)
    assert job.json()["status"] == "succeeded", job.text
    return job_id


def test_a_developer_sees_downloads_runs_again_and_deletes_a_result(site, page, console_problems):
    job_id = _finished_image_job(site, "a lighthouse in the gallery", 1234)
    sign_in(page, site, "developer")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Results").click()
    card = page.locator(f'[data-result="{job_id}"]')
    image = card.get_by_role("img", name="Generated image: a lighthouse in the gallery")
    image.wait_for()
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", image.element_handle())
    assert "flux" in card.inner_text() and "1234" in card.inner_text()
    assert accessibility_violations(page) == []

    with page.expect_download() as download:
        card.get_by_role("link", name=f"Download result {job_id}").click()
    assert download.value.suggested_filename == f"image-{job_id}.jpg"
    assert Path(download.value.path()).read_bytes()[:2] == b"\xff\xd8"  # the image itself, not its JSON

    card.get_by_role("link", name=f"Run job {job_id} again").click()
    image_form = page.locator("#image")
    assert image_form.get_by_label("Prompt").input_value() == "a lighthouse in the gallery"
    assert image_form.get_by_label("Seed").input_value() == "1234"
    assert image_form.get_by_label("Size").input_value() == "512x512"
    assert image_form.get_by_label("Model").input_value() == "flux"

    page.go_back()
    page.locator(f'[data-result="{job_id}"]').get_by_role("button", name=f"Delete result {job_id}").click()
    assert page.get_by_text("The result and its file are deleted.").is_visible()
    assert page.locator(f'[data-result="{job_id}"]').count() == 0
    assert page.request.get(f"{site.url}/results/{job_id}/file/").status == 404
    assert console_problems == []


def test_a_viewer_may_not_delete_and_another_organisation_sees_nothing(site, page, console_problems):
    job_id = _finished_image_job(site, "a result the viewer keeps", 99)
    sign_in(page, site, "viewer")
    page.get_by_label("Organisation").select_option("demo")
    page.get_by_role("button", name="Switch").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Results").click()
    card = page.locator(f'[data-result="{job_id}"]')
    card.get_by_role("img").wait_for()
    assert card.get_by_role("button", name=f"Delete result {job_id}").count() == 0
    assert accessibility_violations(page) == []
    # A forged POST (the page's own session and CSRF token, outside the page) is refused.
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    forged = page.request.post(f"{site.url}/results/{job_id}/delete/", headers={"X-CSRFToken": csrf})
    assert forged.status == 403
    assert page.request.get(f"{site.url}/results/{job_id}/file/").status == 200

    # In the viewer's other organisation, the result does not exist.
    page.get_by_label("Organisation").select_option("globex")
    page.get_by_role("button", name="Switch").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Results").click()
    assert page.locator(f'[data-result="{job_id}"]').count() == 0
    assert page.request.get(f"{site.url}/results/{job_id}/file/").status == 404
    assert page.request.get(f"{site.url}/results/{job_id}/download/").status == 404
    assert console_problems == []


def test_a_result_deleted_on_one_page_leaves_the_other_open_pages_without_reloading(site, page, console_problems):
    job_id = _finished_image_job(site, "a result deleted elsewhere", 7)
    sign_in(page, site, "developer")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Jobs").click()
    page.locator("#jobs-table[data-live=open]").wait_for()
    row = page.locator(f'tr[data-job="{job_id}"]')
    assert row.get_by_role("link", name="Open result").count() == 1
    # The same person's Results page, open in a second tab (same session), also live.
    results = page.context.new_page()
    results.on("console", lambda msg: msg.type == "error" and console_problems.append(f"results: {msg.text}"))
    results.goto(f"{site.url}/results/")
    results.locator("[data-results-of][data-live=open]").wait_for()
    assert results.locator(f'[data-result="{job_id}"]').count() == 1

    # A third tab deletes the result.
    third = page.context.new_page()
    third.goto(f"{site.url}/results/")
    third.locator(f'[data-result="{job_id}"]').get_by_role("button", name=f"Delete result {job_id}").click()
    assert third.get_by_text("The result and its file are deleted.").is_visible()

    results.locator(f'[data-result="{job_id}"]').wait_for(state="detached", timeout=10_000)
    assert results.get_by_role("status").filter(has_text=f"The result of job {job_id} was deleted.").count() == 1
    row.get_by_text("Result deleted").wait_for(timeout=10_000)
    assert row.get_by_role("link", name="Open result").count() == 0
    assert "succeeded" in row.inner_text()  # the job itself stays, in its final state
    assert accessibility_violations(results) == []
    assert console_problems == []
