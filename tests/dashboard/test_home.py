"""Home: signed-out people are sent to sign in; members see their organisation at a glance, by role."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Membership
from accounts.services import membership_add
from billing.models import Plan
from billing.services import credits_grant, subscription_create
from jobs.models import Job
from tests.accounts.factories import PASSWORD, organization_create_for_tests, user_create_for_tests


def test_a_signed_out_visitor_is_sent_to_the_sign_in_page(db):
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_signing_in_with_e_mail_and_password_lands_on_home(member, org):
    user = member("developer")
    client = Client()
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_home_shows_requests_spend_credits_and_quotas_of_the_period(signed_in, org, record_usage):
    plan = Plan.objects.create(slug="pro", name="Pro", included_credits=50_000_000, token_quota=1000)
    subscription_create(organization=org, plan=plan)
    credits_grant(organization=org, amount=5_000_000, reason="top-up")
    record_usage(org, count=3, cost=2_000_000)
    page = signed_in("viewer").get("/").content.decode()
    assert "Requests today</dt><dd>3</dd>" in page
    assert "Spend today</dt><dd>6 credits</dd>" in page
    # 50 included + 5 granted − 6 spent.
    assert "Credits left</dt><dd>49</dd>" in page
    assert 'max="1000" value="90"' in page  # 3 × (10 + 20) tokens of the 1,000-token quota
    assert "on the Pro plan" in page


def test_a_billing_member_sees_usage_but_not_the_organisations_jobs(signed_in, org):
    Job.objects.create(organization=org, kind="image", model="flux", params={"prompt": "a cat"})
    page = signed_in("billing").get("/").content.decode()
    assert "Spend today" in page
    assert "Latest jobs" not in page
    developer_page = signed_in("developer").get("/").content.decode()
    assert "Latest jobs" in developer_page and "flux" in developer_page


def test_someone_in_no_organisation_is_told_how_to_join_one(db):
    client = Client()
    client.force_login(user_create_for_tests())
    page = client.get("/").content.decode()
    assert "No organisation yet" in page
    assert "Requests today" not in page
    assert 'action="/organization/new/"' in page


def test_someone_in_no_organisation_may_start_one_and_owns_it(db):
    user = user_create_for_tests()
    client = Client()
    client.force_login(user)
    assert client.post("/organization/new/", {"name": "Newco Labs"}).status_code == 302
    membership = Membership.objects.get(user=user)
    assert (membership.organization.slug, membership.role) == ("newco-labs", "owner")
    page = client.get("/").content.decode()
    assert "No organisation yet" not in page and "Newco Labs" in page


def test_an_organisation_without_a_name_is_not_created(db):
    client = Client()
    client.force_login(user_create_for_tests())
    response = client.post("/organization/new/", {"name": "  "}, follow=True)
    assert "An organisation needs a name" in response.content.decode()
    assert not Membership.objects.exists()


def test_the_navigation_offers_only_what_the_role_may_open(signed_in):
    page = signed_in("billing").get("/").content.decode()
    assert 'aria-label="Main"' in page and ">Home</a>" in page
    assert ">API keys</a>" not in page
    assert ">API keys</a>" in signed_in("viewer").get("/").content.decode()


def test_the_organisation_switcher_changes_the_current_organisation(member, org):
    user = member("owner")
    other = organization_create_for_tests(slug="globex")
    membership_add(organization=other, user=user, role="viewer")
    client = Client()
    client.force_login(user)
    page = client.get("/").content.decode()
    assert '<label for="org-switcher">Organisation</label>' in page
    assert client.post("/organization/switch/", {"organization": "globex"}).status_code == 302
    page = client.get("/").content.decode()
    assert '<option value="globex" selected>' in page and ">Viewer<" in page


def test_switching_to_an_organisation_one_is_not_a_member_of_changes_nothing(member, org):
    organization_create_for_tests(slug="globex")
    client = Client()
    client.force_login(member("owner"))
    client.post("/organization/switch/", {"organization": "globex"})
    assert client.session.get("dashboard_organization") is None


@pytest.mark.parametrize("role", ["owner", "viewer"])
def test_home_answers_in_a_bounded_number_of_queries(signed_in, org, record_usage, role, django_assert_max_num_queries):
    record_usage(org, count=20)
    for _ in range(10):
        Job.objects.create(organization=org, kind="text", model="openai")
    client = signed_in(role)
    # Session, user, memberships, subscription and credit account, usage, jobs, provider configuration.
    with django_assert_max_num_queries(8):
        assert client.get("/").status_code == 200
