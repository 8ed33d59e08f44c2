"""Plans, prices and subscriptions: validation, subscribing, plan changes, renewals."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Organization
from billing.exceptions import BillingInputError
from billing.models import Plan, Price, Subscription
from billing.services.credits import credit_account_ensure, credits_grant
from billing.services.invoices import invoice_issue

if TYPE_CHECKING:
    from plugins.registry import ProviderRegistry


def add_month(moment: dt.datetime) -> dt.datetime:
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def _registry() -> ProviderRegistry:
    """The providers as configured now, built without opening any connection (admin validation)."""
    from asgiref.sync import async_to_sync

    from plugins.registry import build_registry
    from plugins.selectors import provider_settings_list

    return build_registry(async_to_sync(provider_settings_list)())


def known_providers() -> set[str]:
    return {provider.name for provider in _registry().providers}


def unknown_models(names: list[str]) -> list[str]:
    """The names among ``names`` that no configured provider serves (under its id or an alias), sorted."""
    registry = _registry()
    return sorted(name for name in set(names) if not registry.knows(name))


def plan_validate(*, plan: Plan) -> None:
    """Refuse unknown models and nonsensical numbers with a message naming the field."""
    models = plan.allowed_models
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        raise ValidationError({"allowed_models": 'Use a JSON list of model ids, e.g. ["openai", "flux"].'})
    unknown = unknown_models(models)
    if unknown:
        raise ValidationError({"allowed_models": f"Unknown model {unknown[0]!r}: no configured provider serves it."})


def price_validate(*, price: Price) -> None:
    if not _registry().knows(price.model):
        raise ValidationError({"model": f"Unknown model {price.model!r}: no configured provider serves it."})
    if price.provider and price.provider not in known_providers():
        raise ValidationError({"provider": f"Unknown provider {price.provider!r}."})
    sizes = price.per_image_by_size
    if not isinstance(sizes, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 10**12
        for k, v in sizes.items()
    ):
        raise ValidationError({"per_image_by_size": 'Use {"1024x1024": 20000} with whole, non-negative prices.'})


@transaction.atomic
def subscription_create(
    *,
    organization: Organization,
    plan: Plan | str,
    status: str = Subscription.Status.ACTIVE,
    now: dt.datetime | None = None,
) -> Subscription:
    """Subscribe an organisation: its first period starts now and its included credits are granted."""
    if isinstance(plan, str):
        found = Plan.objects.filter(slug=plan, is_active=True).first()
        if found is None:
            raise BillingInputError("Unknown or inactive plan.", param="plan")
        plan = found
    if Subscription.objects.filter(organization=organization).exists():
        raise BillingInputError("This organisation already has a subscription: change its plan.", param="plan")
    start = now or timezone.now()
    subscription = Subscription(
        organization=organization,
        plan=plan,
        status=status,
        current_period_start=start,
        current_period_end=add_month(start),
    )
    subscription.full_clean()
    subscription.save()
    credit_account_ensure(organization=organization)
    if plan.included_credits:
        credits_grant(organization=organization, amount=plan.included_credits, reason=f"{plan.slug}: included credits")
    return subscription


@transaction.atomic
def subscription_change_plan(
    *, subscription: Subscription, plan: Plan, immediately: bool = True, now: dt.datetime | None = None
) -> Subscription:
    """Switch plan now (limits apply at once, extra included credits granted pro rata) or at renewal."""
    subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
    if not immediately:
        subscription.next_plan = plan
        subscription.save(update_fields=["next_plan", "updated_at"])
        return subscription
    now = now or timezone.now()
    old = subscription.plan
    period = (subscription.current_period_end - subscription.current_period_start).total_seconds()
    left = max(0.0, (subscription.current_period_end - now).total_seconds())
    extra = int((plan.included_credits - old.included_credits) * left / period) if period else 0
    subscription.plan, subscription.next_plan = plan, None
    subscription.save(update_fields=["plan", "next_plan", "updated_at"])
    if extra > 0:
        credits_grant(organization=subscription.organization, amount=extra, reason=f"{old.slug} → {plan.slug} pro rata")
    return subscription


def subscription_close_period(*, subscription: Subscription, now: dt.datetime | None = None) -> Subscription:
    """End the current period now: its invoice is issued and the next period starts (an operator's action)."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Subscription.objects.select_for_update().get(pk=subscription.pk)
        if locked.current_period_start >= now:
            raise BillingInputError("The current period has just started: there is nothing to invoice yet.")
        locked.current_period_end = now
        locked.save(update_fields=["current_period_end", "updated_at"])
    subscriptions_renew_due(now=now, subscription_ids=[subscription.pk])
    return Subscription.objects.get(pk=subscription.pk)


def subscriptions_renew_due(*, now: dt.datetime | None = None, subscription_ids: list[int] | None = None) -> int:
    """Start the next period of every subscription whose period ended (the periodic job); returns how many."""
    now = now or timezone.now()
    renewed = 0
    due = Subscription.objects.filter(current_period_end__lte=now)
    if subscription_ids is not None:
        due = due.filter(pk__in=subscription_ids)
    for subscription_id in due.values_list("pk", flat=True):
        with transaction.atomic():
            sub = (
                Subscription.objects.select_for_update().select_related("plan", "organization").get(pk=subscription_id)
            )
            while sub.current_period_end <= now and sub.status != Subscription.Status.CANCELLED:
                invoice_issue(
                    organization=sub.organization,
                    period_start=sub.current_period_start,
                    period_end=sub.current_period_end,
                    plan=sub.plan,
                )
                if sub.cancel_at_period_end:
                    sub.status = Subscription.Status.CANCELLED
                    break
                sub.plan = sub.next_plan or sub.plan
                sub.next_plan = None
                if sub.status == Subscription.Status.TRIALING:
                    sub.status = Subscription.Status.ACTIVE
                sub.current_period_start, sub.current_period_end = (
                    sub.current_period_end,
                    add_month(sub.current_period_end),
                )
                if sub.plan.included_credits:
                    credits_grant(
                        organization=sub.organization,
                        amount=sub.plan.included_credits,
                        reason=f"{sub.plan.slug}: included credits",
                    )
            sub.save()
            renewed += 1
    return renewed
