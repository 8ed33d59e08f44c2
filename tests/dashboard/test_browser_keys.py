"""API keys in Chromium: a developer creates, copies, uses, rotates and revokes a key; a viewer may only look."""

from __future__ import annotations

import httpx
import pytest

from tests.dashboard.browser import sign_in
from tests.fixtures.accessibility import accessibility_violations

pytestmark = pytest.mark.slow


def _models_status(site, secret: str) -> int:
    return httpx.get(f"{site.url}/v1/models", headers={"Authorization": f"Bearer {secret}"}, timeout=10).status_code


def test_a_developer_creates_copies_uses_rotates_and_revokes_a_key(site, page, console_problems):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    sign_in(page, site, "developer")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
    assert accessibility_violations(page) == []
    page.get_by_label("Name").fill("browser key")
    page.get_by_label("Audio").uncheck()
    page.get_by_text("Limits (optional").click()
    page.get_by_label("Requests per minute").fill("60")
    page.get_by_role("button", name="Create key").click()
    assert page.get_by_role("heading", name="Key created").is_visible()
    assert accessibility_violations(page) == []
    secret = page.get_by_label("Secret").input_value()
    page.get_by_role("button", name="Copy").click()
    page.get_by_role("button", name="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    assert _models_status(site, secret) == 200

    page.get_by_role("link", name="Done").click()
    row = page.get_by_role("row").filter(has_text="browser key")
    assert "requests_per_minute=60" in row.inner_text() and secret not in page.content()
    row.get_by_role("button", name="Rotate browser key").click()
    assert page.get_by_role("heading", name="Key rotated").is_visible()
    rotated = page.get_by_label("Secret").input_value()
    assert rotated != secret
    assert _models_status(site, rotated) == 200

    page.get_by_role("link", name="Done").click()
    page.get_by_role("row").filter(has_text="browser key").get_by_role("button", name="Revoke browser key").click()
    assert page.get_by_text("is revoked").is_visible()
    assert page.get_by_role("row").filter(has_text="browser key").count() == 0
    # Revocation reaches the gateway's key cache within seconds.
    page.wait_for_timeout(2500)
    assert _models_status(site, rotated) == 401
    assert console_problems == []


def test_a_viewer_sees_the_keys_without_any_way_to_change_them(site, page, console_problems):
    sign_in(page, site, "viewer")
    page.get_by_label("Organisation").select_option("demo")
    page.get_by_role("button", name="Switch").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
    assert page.get_by_role("heading", name="API keys").is_visible()
    assert page.get_by_role("button", name="Create key").count() == 0
    assert page.get_by_role("button", name="Revoke demo").count() == 0
    assert accessibility_violations(page) == []
    assert console_problems == []


def test_a_billing_member_is_not_offered_the_keys(site, page, console_problems):
    sign_in(page, site, "billing")
    assert page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").count() == 0
    # The server refuses it too (asked with the page's session, outside the page: a 403 is a console error).
    response = page.request.get(f"{site.url}/keys/")
    assert response.status == 403 and "Not allowed" in response.text()
    assert console_problems == []


def test_a_developer_edits_a_key_and_a_looser_limit_than_the_plan_is_refused(site, page, console_problems):
    sign_in(page, site, "developer")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("key to edit")
    page.get_by_role("button", name="Create key").click()
    secret = page.get_by_label("Secret").input_value()
    page.get_by_role("link", name="Done").click()

    page.get_by_role("row").filter(has_text="key to edit").get_by_role("link", name="Edit key to edit").click()
    assert page.get_by_role("heading", name="Edit the key key to edit").is_visible()
    assert accessibility_violations(page) == []
    page.get_by_label("Name").fill("edited key")
    page.get_by_text("Limits (optional").click()
    page.get_by_label("Job priority (0–100)").fill("5")  # the demo plan's job priority is 0
    with page.expect_navigation() as refused:
        page.get_by_role("button", name="Save key").click()
    assert refused.value.status == 200  # an expected refusal: the form again, not an error page
    refusal = page.get_by_role("alert").filter(has_text="'job_priority' may be at most 0, the organisation's plan")
    assert refusal.is_visible()
    assert accessibility_violations(page) == []

    page.get_by_label("Job priority (0–100)").fill("")
    page.get_by_label("Requests per minute").fill("20")
    page.get_by_label("Audio").uncheck()
    page.get_by_role("button", name="Save key").click()
    assert page.get_by_text("The key edited key").is_visible()
    row = page.get_by_role("row").filter(has_text="edited key")
    assert "requests_per_minute=20" in row.inner_text() and "audio" not in row.inner_text()
    assert _models_status(site, secret) == 200  # same secret, new settings
    assert console_problems == []  # the refusal included: it is shown in the form, not reported as an error
