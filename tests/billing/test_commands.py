"""The periodic jobs as management commands and tasks."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command

from billing.models import Invoice, Plan, Subscription
from billing.services import subscription_create
from billing.tasks import reconcile_holds, renew_subscriptions


def test_billing_periodic_renews_due_subscriptions_and_issues_their_invoices(organization):
    plan = Plan.objects.create(slug="basic", name="Basic", monthly_price=1_000_000)
    subscription_create(organization=organization, plan=plan, now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    out = io.StringIO()
    call_command("billing_periodic", stdout=out)
    assert "renewed 1 subscriptions" in out.getvalue()
    assert Subscription.objects.get().current_period_end > dt.datetime.now(dt.UTC)
    assert Invoice.objects.filter(organization=organization).count() >= 10  # every missed month, once


def test_the_periodic_jobs_are_tasks_too(db):
    assert renew_subscriptions.call() == 0
    assert reconcile_holds.call() == 0


@pytest.mark.redis
def test_billing_flush_ledger_runs_one_pass(db):
    from tests.conftest import require_env

    require_env("REDIS_URL")
    out = io.StringIO()
    call_command("billing_flush_ledger", "--once", stdout=out)
    assert out.getvalue().startswith("flushed ")
