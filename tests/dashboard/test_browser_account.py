"""Signing in and managing one's account in Chromium, against a real gateway process.

Every page visited is checked with axe-core (no serious or critical violations) and must leave
no console error and no Content-Security-Policy violation.
"""

from __future__ import annotations

import pytest

from tests.dashboard.browser import DEMO_PASSWORD, sign_in
from tests.fixtures.accessibility import accessibility_violations

pytestmark = pytest.mark.slow
NEW_PASSWORD = "another-Long-passw0rd"  # pragma: allowlist secret


def test_signing_in_lands_on_home_with_the_organisation_at_a_glance(site, page, console_problems):
    page.goto(f"{site.url}/accounts/login/")
    assert accessibility_violations(page) == []
    sign_in(page, site, "owner")
    assert page.get_by_role("heading", name="At a glance").is_visible()
    assert page.get_by_text("on the Team plan").is_visible()
    assert page.get_by_role("navigation", name="Main").get_by_role("link", name="Home").is_visible()
    assert page.get_by_role("heading", name="Provider health").is_visible()
    assert accessibility_violations(page) == []
    assert console_problems == []


def test_home_fits_a_375_pixel_wide_screen(site, page, console_problems):
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, site, "viewer")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.get_by_role("button", name="Sign out").is_visible()
    assert console_problems == []


def test_a_member_of_two_organisations_switches_between_them(site, page, console_problems):
    sign_in(page, site, "viewer")
    roles = {"demo": "Viewer", "globex": "Owner"}
    switcher = page.get_by_label("Organisation")
    current = switcher.input_value()
    assert page.get_by_title("Your role").inner_text() == roles[current]
    other = "globex" if current == "demo" else "demo"
    switcher.select_option(other)
    page.get_by_role("button", name="Switch").click()
    page.wait_for_load_state()
    assert page.get_by_label("Organisation").input_value() == other
    assert page.get_by_title("Your role").inner_text() == roles[other]
    assert accessibility_violations(page) == []
    assert console_problems == []


def test_signing_out_ends_the_session(site, page, console_problems):
    sign_in(page, site, "developer")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{site.url}/accounts/login/")
    page.goto(f"{site.url}/")
    assert page.url.startswith(f"{site.url}/accounts/login/")
    assert console_problems == []


def test_a_member_changes_their_password_and_signs_in_with_the_new_one(site, page, console_problems):

    sign_in(page, site, "admin")
    page.get_by_role("link", name=site.people["admin"]).click()
    assert accessibility_violations(page) == []
    page.get_by_label("Current Password").fill(DEMO_PASSWORD)
    page.get_by_label("New Password:", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New Password (again)").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change Password").click()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{site.url}/accounts/login/")
    page.get_by_label("Email").fill(site.people["admin"])
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{site.url}/")
    assert console_problems == []


def test_a_forgotten_password_can_be_reset_by_e_mail(site, page, console_problems):
    page.goto(f"{site.url}/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    assert accessibility_violations(page) == []
    page.get_by_label("Email").fill(site.people["billing"])
    page.get_by_role("button", name="Reset My Password").click()
    assert page.get_by_role("heading", name="Password Reset").is_visible()
    assert accessibility_violations(page) == []
    assert console_problems == []


def test_an_invitee_creates_their_account_from_the_invitation_and_joins(site, page, console_problems):
    page.goto(f"{site.url}/invitations/{site.invitation}/")
    assert page.get_by_text("You are invited to join").is_visible()
    assert accessibility_violations(page) == []
    page.get_by_label("Full name").fill("New Person")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Create account and join").click()
    page.wait_for_url(f"{site.url}/")
    assert page.get_by_title("Your role").inner_text() == "Developer"
    assert console_problems == []


def test_someone_signs_up_and_is_told_how_to_join_an_organisation(site, page, console_problems):
    page.goto(f"{site.url}/accounts/signup/")
    assert accessibility_violations(page) == []
    page.get_by_label("Email").fill("stranger@example.com")
    page.get_by_label("Password:", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Password (again)").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign Up").click()
    page.wait_for_url(f"{site.url}/")
    assert page.get_by_role("heading", name="No organisation yet").is_visible()
    assert console_problems == []


def test_an_owner_invites_a_member_and_reads_the_audit_log(site, page, console_problems):
    sign_in(page, site, "owner")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Members").click()
    assert accessibility_violations(page) == []
    page.get_by_label("E-mail").fill("colleague@example.com")
    page.get_by_label("Role", exact=True).select_option("viewer")
    page.get_by_role("button", name="Send invitation").click()
    assert page.get_by_text("Invitation e-mailed to colleague@example.com").is_visible()
    assert page.get_by_role("button", name="Revoke the invitation of colleague@example.com").is_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    assert page.get_by_role("cell", name="Invitation Created").first.is_visible()
    assert accessibility_violations(page) == []
    assert console_problems == []


def test_the_email_addresses_page_runs_no_inline_script(site, page, console_problems):
    sign_in(page, site, "developer")
    page.goto(f"{site.url}/accounts/email/")
    assert page.get_by_role("heading", name="Email Addresses").is_visible()
    assert page.evaluate("[...document.scripts].every((script) => script.src)")
    assert accessibility_violations(page) == []
    assert console_problems == []  # no Content-Security-Policy violation either
