"""Usage and Billing in Chromium: charts, CSV download, invoices; accessible, no console or CSP errors."""

from __future__ import annotations

import pytest

from tests.dashboard.browser import sign_in
from tests.fixtures.accessibility import accessibility_violations

pytestmark = pytest.mark.slow


def test_usage_shows_charts_and_exports_csv(site, page, console_problems):
    sign_in(page, site, "owner")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Usage").click()
    assert page.get_by_role("heading", name="Per day").is_visible()
    assert page.locator("figure.chart").count() == 4  # requests, cost, errors, latency: a chart or "no data"
    page.get_by_label("Period").select_option("7")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/usage/?days=7**")
    assert accessibility_violations(page) == []
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    assert download.value.suggested_filename == "usage-demo-7d.csv"
    assert console_problems == []


def test_billing_shows_the_plan_to_a_billing_member(site, page, console_problems):
    sign_in(page, site, "billing")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Billing").click()
    assert page.get_by_text("Team", exact=True).is_visible()
    assert accessibility_violations(page) == []
    assert console_problems == []
