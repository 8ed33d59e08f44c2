"""The operator's story end to end: plan → subscription → traffic → charts → 429 and 402 → invoice = ledger."""

from __future__ import annotations

import re

from asgiref.sync import sync_to_async
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.services import membership_add
from billing.models import Invoice, Plan, Subscription, UsageEvent
from tests.billing.conftest import settle_and_flush

IMAGE = {"model": "flux", "prompt": "a red bicycle"}
FLUX_PRICE = 10_000  # the Pollinations plugin's default price per image, in micro-credits


def _operator() -> Client:
    user = User.objects.create_superuser(email="ops@example.com", password="a long enough password")
    client = Client()
    client.force_login(user)
    return client


def _members(organization) -> list[User]:
    password = "a long enough password"  # pragma: allowlist secret
    people = [User.objects.create_user(email=f"{n}@example.com", password=password) for n in "ab"]
    for person in people:
        membership_add(organization=organization, user=person, role="developer")
    return people


def _flux_requests_in_chart(operator: Client, organization) -> int:
    page = operator.get(reverse("admin:billing_analytics"), {"organization": organization.pk}).content.decode()
    found = re.search(r"<td>flux</td><td>(\d+)</td>", page)
    return int(found.group(1)) if found else 0


async def test_an_operator_plans_subscribes_watches_refuses_and_invoices(client, amake_key, organization):
    operator = await sync_to_async(_operator)()
    post, get = sync_to_async(operator.post), sync_to_async(operator.get)
    # 1. A plan with three images' worth of credits and two requests per minute per member.
    form = {
        "slug": "starter",
        "name": "Starter",
        "monthly_price": 1_000_000,
        "included_credits": 3 * FLUX_PRICE,
        "user_requests_per_minute": 2,
        "allowed_models": "[]",
        "overage_policy": "block",
        "job_priority": 0,
        "overage_rate_percent": 100,
        "is_active": "on",
    }
    assert (await post(reverse("admin:billing_plan_add"), form)).status_code == 302
    plan = await Plan.objects.aget(slug="starter")
    # 2. The organisation subscribes.
    added = await post(
        reverse("admin:billing_subscription_add"),
        {"organization": organization.pk, "plan": plan.pk, "status": "active"},
    )
    assert added.status_code == 302
    ada, bob = await sync_to_async(_members)(organization)
    ada_key = {"Authorization": f"Bearer {await amake_key(created_by=ada, enforce_role=False)}"}
    bob_key = {"Authorization": f"Bearer {await amake_key(created_by=bob, enforce_role=False)}"}
    assert await sync_to_async(_flux_requests_in_chart)(operator, organization) == 0

    # 3. Requests flow; the charts grow.
    assert (await client.post("/v1/images/generations", json=IMAGE, headers=ada_key)).status_code == 200
    await settle_and_flush()
    assert await sync_to_async(_flux_requests_in_chart)(operator, organization) == 1
    assert (await client.post("/v1/images/generations", json=IMAGE, headers=ada_key)).status_code == 200
    # 4. Ada's third request within the minute: 429.
    too_fast = await client.post("/v1/images/generations", json=IMAGE, headers=ada_key)
    assert too_fast.status_code == 429 and "Retry-After" in too_fast.headers
    # 5. Bob uses the last credits; the next request is 402.
    assert (await client.post("/v1/images/generations", json=IMAGE, headers=bob_key)).status_code == 200
    broke = await client.post("/v1/images/generations", json=IMAGE, headers=bob_key)
    assert broke.status_code == 402 and broke.json()["error"]["code"] == "insufficient_credits"
    await settle_and_flush()
    assert await sync_to_async(_flux_requests_in_chart)(operator, organization) == 3

    # 6. The operator closes the period: the invoice's usage equals the ledger.
    subscription = await Subscription.objects.aget(organization=organization)
    await post(
        reverse("admin:billing_subscription_changelist"),
        {"action": "close_period", "_selected_action": [subscription.pk]},
    )
    invoice = await Invoice.objects.aget(organization=organization)
    ledger = [e.cost async for e in UsageEvent.objects.filter(organization=organization)]
    assert invoice.usage_total == sum(ledger) == 3 * FLUX_PRICE
    assert invoice.total == plan.monthly_price  # the usage was paid by the included credits
    pdf = await get(reverse("admin:billing_invoice_pdf", args=[invoice.pk]))
    assert pdf.content.startswith(b"%PDF")
