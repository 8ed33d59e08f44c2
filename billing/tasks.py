"""Billing's periodic jobs as tasks (the ``db_worker`` runs them; ``billing_periodic`` enqueues or runs them)."""

from __future__ import annotations

from django_tasks import task

from billing.services import holds_reconcile, subscriptions_renew_due


@task()
def renew_subscriptions() -> int:
    """Start the next period of every subscription whose period ended, issuing its invoice."""
    return subscriptions_renew_due()


@task()
def reconcile_holds() -> int:
    """Settle reservations left by gateway processes that died between admission and settlement."""
    return holds_reconcile()
