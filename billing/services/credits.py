"""Credit balances: accounts and grants (top-ups, a period's included credits)."""

from __future__ import annotations

from django.db import transaction

from accounts.models import Organization
from billing._stores import shared_credits_adjust
from billing.exceptions import BillingInputError
from billing.models import MAX_UNIT_PRICE, CreditAccount, CreditGrant


@transaction.atomic
def credit_account_ensure(*, organization: Organization, overdraft: int | None = None) -> CreditAccount:
    """The organisation's account, created at zero; optionally with a new overdraft."""
    account, _ = CreditAccount.objects.select_for_update().get_or_create(organization=organization)
    if overdraft is not None and overdraft != account.overdraft:
        if not 0 <= overdraft <= MAX_UNIT_PRICE:
            raise BillingInputError("The overdraft must be between 0 and 1,000,000 credits.", param="overdraft")
        change = overdraft - account.overdraft
        account.overdraft = overdraft
        account.save(update_fields=["overdraft", "updated_at"])
        transaction.on_commit(lambda: shared_credits_adjust(organization.pk, change))
    return account


@transaction.atomic
def credits_grant(*, organization: Organization, amount: int, reason: str) -> CreditAccount:
    """Add (or, negative, remove) credits; every replica sees the new balance at once."""
    if not -MAX_UNIT_PRICE <= amount <= MAX_UNIT_PRICE or amount == 0:
        raise BillingInputError("The amount must be a non-zero number of micro-credits.", param="amount")
    account = CreditAccount.objects.select_for_update().get_or_create(organization=organization)[0]
    CreditGrant.objects.create(organization=organization, amount=amount, reason=reason[:200])
    account.balance += amount
    account.save(update_fields=["balance", "updated_at"])
    transaction.on_commit(lambda: shared_credits_adjust(organization.pk, amount))
    return account
