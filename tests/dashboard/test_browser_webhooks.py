"""Webhooks in Chromium: a developer adds an endpoint, copies its secret and rotates it; billing gets no link."""

from __future__ import annotations

import pytest

from tests.dashboard.browser import sign_in
from tests.fixtures.accessibility import accessibility_violations

pytestmark = pytest.mark.slow


def test_a_developer_adds_an_endpoint_and_rotates_its_secret(site, page, console_problems):
    sign_in(page, site, "developer")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").click()
    assert accessibility_violations(page) == []
    page.get_by_label("URL").fill("https://example.com/hook")
    page.get_by_label("job.failed").check()
    page.get_by_role("button", name="Add endpoint").click()
    first = page.get_by_role("textbox", name="Secret").input_value()
    assert first.startswith("whsec_")
    assert accessibility_violations(page) == []
    page.get_by_role("button", name="Rotate the secret of https://example.com/hook").click()
    assert page.get_by_role("textbox", name="Secret").input_value() not in ("", first)
    assert console_problems == []


def test_a_billing_member_is_not_offered_webhooks(site, page, console_problems):
    sign_in(page, site, "billing")
    assert page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").count() == 0
    assert console_problems == []
