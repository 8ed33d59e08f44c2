"""The playground in Chromium: runs go through the gateway as the signed-in person and render in place."""

from __future__ import annotations

import pytest

from tests.dashboard.browser import sign_in
from tests.fixtures.accessibility import accessibility_violations

pytestmark = pytest.mark.slow


def test_a_developer_streams_a_chat_answer_and_sees_its_cost_and_code(site, page, console_problems):
    sign_in(page, site, "developer")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Playground").click()
    assert accessibility_violations(page) == []
    text = page.locator("#text")
    text.get_by_label("System prompt").fill("Be brief.")
    text.get_by_label("Message").fill("Say hello to the dashboard")
    text.get_by_role("button", name="Run").click()
    text.get_by_text("Cost:").wait_for(timeout=20_000)
    assert text.locator("[data-output]").inner_text().strip() != ""
    text.get_by_text("View code").click()
    assert "/v1/chat/completions" in text.locator('[data-code="curl"]').inner_text()
    assert "client.chat.completions.create(" in text.locator('[data-code="python"]').inner_text()
    # The browser never received a key: the page and its requests carry none.
    assert "mgw_" not in page.content()
    assert console_problems == []


def test_an_image_and_speech_render_in_place(site, page, console_problems):
    sign_in(page, site, "owner")
    page.goto(f"{site.url}/playground/")
    image = page.locator("#image")
    image.get_by_label("Prompt").fill("a lighthouse at dusk")
    image.get_by_label("Seed").fill("42")
    image.get_by_role("button", name="Run").click()
    picture = image.get_by_role("img", name="Generated image: a lighthouse at dusk")
    picture.wait_for(timeout=20_000)
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", picture.element_handle())
    speech = page.locator("#speech")
    speech.get_by_label("Text to say").fill("Hello there")
    speech.get_by_role("button", name="Run").click()
    speech.locator("audio").wait_for(timeout=20_000)
    assert speech.locator("audio").get_attribute("src").startswith("blob:")
    assert console_problems == []


def test_roles_without_gateway_access_get_no_playground(site, page, console_problems):
    sign_in(page, site, "billing")
    assert page.get_by_role("navigation", name="Main").get_by_role("link", name="Playground").count() == 0
    refused = page.request.post(
        f"{site.url}/playground/run/chat/", data="{}", headers={"Content-Type": "application/json"}
    )
    # No CSRF token from outside the page: refused before anything else.
    assert refused.status == 403
    assert page.request.get(f"{site.url}/playground/").status == 403
    assert console_problems == []
