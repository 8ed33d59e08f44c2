"""Jobs in Chromium: a job submitted through /v1/jobs appears without reloading, and is cancelled from the page."""

from __future__ import annotations

import httpx
import pytest

from tests.dashboard.browser import sign_in
from tests.fixtures.accessibility import accessibility_violations

pytestmark = pytest.mark.slow


def test_a_submitted_job_appears_live_and_is_cancelled_from_the_page(site, page, console_problems):
    sign_in(page, site, "developer")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Jobs").click()
    page.get_by_text("Live: jobs update as they change.").wait_for()
    assert accessibility_violations(page) == []
    submitted = httpx.post(
        f"{site.url}/v1/jobs",
        headers={"Authorization": f"Bearer {site.api_key}"},
        json={"kind": "image", "request": {"prompt": "a live job", "model": "flux"}},
        timeout=10,
    )
    assert submitted.status_code in (200, 201, 202), submitted.text
    job_id = submitted.json()["id"]
    row = page.locator(f'tr[data-job="{job_id}"]')
    row.wait_for(timeout=15_000)  # no reload: the WebSocket brought it
    page.reload()
    page.get_by_role("button", name=f"Cancel job {job_id}").click()
    assert page.get_by_text("The job is cancelled.").is_visible()
    assert "cancelled" in page.locator(f'tr[data-job="{job_id}"]').inner_text()
    assert console_problems == []
