"""The billing back-office: validation in forms, a read-only ledger, invoice documents, analytics charts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.services import api_key_create
from billing.exceptions import InvoiceStateError
from billing.models import Invoice, Plan, Price, Subscription, UsageEvent
from billing.services import invoice_delete, invoice_issue, usage_events_insert


@pytest.fixture
def staff(db) -> Client:
    user = User.objects.create_superuser(email="ops@example.com", password="a long enough password")
    client = Client()
    client.force_login(user)
    return client


def _plan_form(**overrides) -> dict:
    return {
        "slug": "team",
        "name": "Team",
        "monthly_price": 0,
        "included_credits": 0,
        "allowed_models": "[]",
        "overage_policy": "block",
        "overage_rate_percent": 100,
        "job_priority": 0,
        "is_active": "on",
        **overrides,
    }


def test_an_operator_creates_a_plan_in_the_admin(staff):
    answer = staff.post(reverse("admin:billing_plan_add"), _plan_form(requests_per_minute=60))
    assert answer.status_code == 302
    assert Plan.objects.get(slug="team").requests_per_minute == 60


def test_a_plan_sets_job_priority_and_running_cap_within_bounds(staff):
    for bad in ({"job_priority": 101}, {"max_running_jobs": 0}, {"max_running_jobs": 1001}):
        answer = staff.post(reverse("admin:billing_plan_add"), _plan_form(**bad))
        assert answer.status_code == 200 and not Plan.objects.exists()
    answer = staff.post(reverse("admin:billing_plan_add"), _plan_form(job_priority=50, max_running_jobs=2))
    assert answer.status_code == 302
    plan = Plan.objects.get(slug="team")
    assert (plan.job_priority, plan.max_running_jobs) == (50, 2)


def test_a_plan_without_a_running_cap_uses_the_gateway_default(staff):
    assert staff.post(reverse("admin:billing_plan_add"), _plan_form()).status_code == 302
    assert (Plan.objects.get(slug="team").job_priority, Plan.objects.get(slug="team").max_running_jobs) == (0, None)


def test_a_plan_with_an_unknown_model_is_a_form_error_not_a_crash(staff):
    answer = staff.post(reverse("admin:billing_plan_add"), _plan_form(allowed_models='["no-such-model"]'))
    assert answer.status_code == 200
    assert "no-such-model" in answer.content.decode()
    assert not Plan.objects.exists()


def test_a_negative_price_is_a_form_error(staff):
    form = {
        "provider": "",
        "model": "openai",
        "per_1k_input_tokens": -1,
        "per_1k_output_tokens": 0,
        "per_image": 0,
        "per_image_by_size": "{}",
        "per_audio_second": 0,
        "per_1k_characters": 0,
    }
    answer = staff.post(reverse("admin:billing_price_add"), form)
    assert answer.status_code == 200 and not Price.objects.exists()


def test_an_operator_subscribes_an_organisation_in_the_admin(staff, organization):
    plan = Plan.objects.create(slug="pro", name="Pro", included_credits=5_000_000)
    answer = staff.post(
        reverse("admin:billing_subscription_add"),
        {"organization": organization.pk, "plan": plan.pk, "status": "active"},
    )
    assert answer.status_code == 302
    subscription = Subscription.objects.get(organization=organization)
    assert subscription.current_period_end > timezone.now()
    assert organization.credit_account.balance == 5_000_000


def _event(organization) -> dict:
    return {
        "request_id": "r1",
        "client_request_id": "",
        "created_at": timezone.now().timestamp(),
        "organization_id": organization.pk,
        "key_id": 3,
        "user_id": None,
        "provider": "pollinations-text",
        "model": "openai",
        "operation": "chat",
        "modality": "text",
        "input_tokens": 5,
        "output_tokens": 7,
        "images": 0,
        "audio_seconds": 0.0,
        "characters": 0,
        "usage_source": "upstream",
        "cost": 42,
        "status": 200,
        "latency_ms": 12,
        "cache_hit": False,
    }


def test_the_ledger_cannot_be_edited_or_deleted_in_the_admin(staff, organization):
    usage_events_insert(events=[_event(organization)])
    event = UsageEvent.objects.get()
    assert staff.get(reverse("admin:billing_usageevent_changelist")).status_code == 200
    assert staff.get(reverse("admin:billing_usageevent_add")).status_code == 403
    assert staff.post(reverse("admin:billing_usageevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    staff.post(reverse("admin:billing_usageevent_change", args=[event.pk]), {"cost": 0})
    assert UsageEvent.objects.get().cost == 42


def test_the_analytics_page_draws_charts_from_the_ledger(staff, organization):
    usage_events_insert(events=[_event(organization)])
    page = staff.get(reverse("admin:billing_analytics"), {"organization": organization.pk})
    body = page.content.decode()
    assert page.status_code == 200
    assert body.count('<svg role="img"') == 2 and "Requests per day" in body and "openai" in body
    # The one request succeeded: the error chart says so instead of drawing an empty frame.
    assert 'Errors per day</figcaption><p class="chart-empty">No data for this period.' in body


@pytest.mark.parametrize("query", [{"organization": "²"}, {"days": "²"}, {"days": "many"}])
def test_the_analytics_page_falls_back_to_its_defaults_for_filters_that_are_not_plain_numbers(staff, query):
    assert staff.get(reverse("admin:billing_analytics"), query).status_code == 200


def test_invoice_documents_download_from_the_admin(staff, organization):
    usage_events_insert(events=[_event(organization)])
    now = timezone.now()
    invoice = invoice_issue(
        organization=organization, period_start=now - dt.timedelta(days=1), period_end=now + dt.timedelta(days=1)
    )
    pdf = staff.get(reverse("admin:billing_invoice_pdf", args=[invoice.pk]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert b"openai" in staff.get(reverse("admin:billing_invoice_csv", args=[invoice.pk])).content
    assert invoice.number in staff.get(reverse("admin:billing_invoice_html", args=[invoice.pk])).content.decode()
    staff.post(reverse("admin:billing_invoice_changelist"), {"action": "mark_paid", "_selected_action": [invoice.pk]})
    assert Invoice.objects.get().status == "paid"


def test_the_ledger_list_names_the_organisation_and_the_key_without_a_query_per_row(staff, organization):
    key, _ = api_key_create(organization=organization, name="billing-robot", scopes=("text",))
    usage_events_insert(events=[{**_event(organization), "request_id": "gone", "key_id": 999_999}])
    url = reverse("admin:billing_usageevent_changelist")
    with CaptureQueriesContext(connection) as one_row:
        staff.get(url)
    usage_events_insert(events=[{**_event(organization), "request_id": f"r{i}", "key_id": key.pk} for i in range(5)])
    with CaptureQueriesContext(connection) as six_rows:
        body = staff.get(url).content.decode()
    assert len(six_rows) == len(one_row)
    assert body.count(f'<td class="field-organization_name">{organization.slug}</td>') == 6
    assert body.count('<td class="field-api_key">billing-robot</td>') == 5
    assert '<td class="field-api_key">#999999</td>' in body


def _paid_invoice(staff, organization) -> Invoice:
    usage_events_insert(events=[_event(organization)])
    now = timezone.now()
    invoice = invoice_issue(
        organization=organization, period_start=now - dt.timedelta(days=1), period_end=now + dt.timedelta(days=1)
    )
    staff.post(reverse("admin:billing_invoice_changelist"), {"action": "mark_paid", "_selected_action": [invoice.pk]})
    return Invoice.objects.get(pk=invoice.pk)


def test_a_paid_invoice_cannot_be_changed_or_deleted_in_the_admin(staff, organization):
    invoice = _paid_invoice(staff, organization)
    assert invoice.status == "paid"
    page = staff.get(reverse("admin:billing_invoice_change", args=[invoice.pk])).content.decode()
    assert 'name="total"' not in page and 'class="deletelink"' not in page
    assert staff.post(reverse("admin:billing_invoice_delete", args=[invoice.pk]), {"post": "yes"}).status_code == 403
    staff.post(
        reverse("admin:billing_invoice_changelist"),
        {"action": "delete_selected", "_selected_action": [invoice.pk], "post": "yes"},
    )
    staff.post(reverse("admin:billing_invoice_changelist"), {"action": "void", "_selected_action": [invoice.pk]})
    assert Invoice.objects.get(pk=invoice.pk).status == "paid"
    with pytest.raises(InvoiceStateError):
        invoice_delete(invoice=invoice)
    assert Invoice.objects.filter(pk=invoice.pk).exists()


def test_an_unpaid_invoice_can_still_be_deleted(staff, organization):
    usage_events_insert(events=[_event(organization)])
    now = timezone.now()
    invoice = invoice_issue(
        organization=organization, period_start=now - dt.timedelta(days=1), period_end=now + dt.timedelta(days=1)
    )
    assert invoice.status == "open"
    assert staff.post(reverse("admin:billing_invoice_delete", args=[invoice.pk]), {"post": "yes"}).status_code == 302
    assert not Invoice.objects.filter(pk=invoice.pk).exists()
