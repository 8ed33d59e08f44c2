"""Billing write operations. Views, admin, tasks and commands call these, never the models directly."""

from billing.services.credits import credit_account_ensure, credits_grant
from billing.services.invoices import invoice_delete, invoice_issue, invoice_void, payment_record
from billing.services.ledger import usage_events_insert, usage_events_insert_encoded
from billing.services.reconcile import holds_reconcile
from billing.services.subscriptions import (
    plan_validate,
    price_validate,
    subscription_change_plan,
    subscription_close_period,
    subscription_create,
    subscriptions_renew_due,
)

__all__ = [
    "credit_account_ensure",
    "credits_grant",
    "holds_reconcile",
    "invoice_delete",
    "invoice_issue",
    "invoice_void",
    "payment_record",
    "plan_validate",
    "price_validate",
    "subscription_change_plan",
    "subscription_close_period",
    "subscription_create",
    "subscriptions_renew_due",
    "usage_events_insert",
    "usage_events_insert_encoded",
]
