"""Plans, subscriptions, plan changes and renewals."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from billing.exceptions import BillingInputError
from billing.models import CreditAccount, Invoice, Plan, Price, Subscription
from billing.policy import policy_from_subscription
from billing.services import (
    plan_validate,
    price_validate,
    subscription_change_plan,
    subscription_create,
    subscriptions_renew_due,
)

START = dt.datetime(2026, 1, 31, 12, tzinfo=dt.UTC)


@pytest.fixture
def plans(db):
    basic = Plan.objects.create(
        slug="basic",
        name="Basic",
        monthly_price=5_000_000,
        included_credits=10_000_000,
        requests_per_minute=10,
        token_quota=1000,
    )
    pro = Plan.objects.create(
        slug="pro",
        name="Pro",
        monthly_price=20_000_000,
        included_credits=40_000_000,
        requests_per_minute=100,
        token_quota=100_000,
    )
    return basic, pro


def test_subscribing_starts_a_month_long_period_and_grants_the_included_credits(organization, plans):
    subscription = subscription_create(organization=organization, plan=plans[0], now=START)
    assert subscription.current_period_end == dt.datetime(2026, 2, 28, 12, tzinfo=dt.UTC)
    assert CreditAccount.objects.get(organization=organization).balance == 10_000_000


def test_an_unknown_plan_is_refused(organization):
    with pytest.raises(BillingInputError):
        subscription_create(organization=organization, plan="no-such-plan")


def test_a_plan_change_mid_period_applies_its_limits_at_once_and_grants_credits_pro_rata(organization, plans):
    basic, pro = plans
    subscription = subscription_create(organization=organization, plan=basic, now=START)
    halfway = START + (subscription.current_period_end - START) / 2
    subscription = subscription_change_plan(subscription=subscription, plan=pro, now=halfway)
    policy = policy_from_subscription(Subscription.objects.select_related("plan").get(pk=subscription.pk))
    assert policy.requests_per_minute == 100
    assert policy.quotas["text"] == 100_000
    # The quota window is still the same period: usage so far keeps counting against the new quota.
    assert policy.period_start == START.timestamp()
    assert CreditAccount.objects.get(organization=organization).balance == 10_000_000 + 15_000_000


def test_a_plan_change_at_renewal_waits_for_the_period_end(organization, plans):
    basic, pro = plans
    subscription = subscription_create(organization=organization, plan=basic, now=START)
    subscription_change_plan(subscription=subscription, plan=pro, immediately=False)
    assert Subscription.objects.get().plan == basic
    assert subscriptions_renew_due(now=subscription.current_period_end) == 1
    renewed = Subscription.objects.get()
    assert renewed.plan == pro and renewed.next_plan is None
    assert renewed.current_period_start == subscription.current_period_end
    invoice = Invoice.objects.get(organization=organization)
    assert (invoice.status, invoice.total) == ("open", basic.monthly_price)  # the fee of the ended period's plan


def test_renewal_cancels_a_subscription_marked_to_end(organization, plans):
    subscription = subscription_create(organization=organization, plan=plans[0], now=START)
    subscription.cancel_at_period_end = True
    subscription.save()
    subscriptions_renew_due(now=subscription.current_period_end + dt.timedelta(days=1))
    assert Subscription.objects.get().status == "cancelled"


def test_a_plan_naming_an_unknown_model_is_a_validation_error(db):
    with pytest.raises(ValidationError, match="no-such-model"):
        plan_validate(plan=Plan(allowed_models=["openai", "no-such-model"]))
    plan_validate(plan=Plan(allowed_models=["openai"]))


def test_negative_absurd_and_unknown_prices_are_rejected(db):
    with pytest.raises(ValidationError):
        Price(model="openai", per_image=-1).full_clean()
    with pytest.raises(ValidationError):
        Price(model="openai", per_1k_input_tokens=10**18).full_clean()
    with pytest.raises(ValidationError, match="Unknown model"):
        price_validate(price=Price(model="no-such-model"))
    with pytest.raises(ValidationError):
        price_validate(price=Price(model="flux", per_image_by_size={"1024x1024": -5}))
    price_validate(price=Price(model="flux", per_image_by_size={"1024x1024": 5}))
