"""Invoices from the ledger, and the payments that settle them."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Organization
from billing.exceptions import BillingInputError, InvoiceStateError
from billing.models import Invoice, InvoiceLine, Payment, Plan, Subscription
from billing.selectors import usage_by_model


@transaction.atomic
def invoice_issue(
    *, organization: Organization, period_start: dt.datetime, period_end: dt.datetime, plan: Plan | None = None
) -> Invoice:
    """An open invoice for the period: the plan's fee, one usage line per model, credits applied.

    The usage lines sum to exactly the ledger's cost over the period (``usage_total``). Usage covered
    by the plan's included credits, and (on block plans) by prepaid credits, is deducted; on plans
    that bill overage, the overage is charged at the plan's overage rate.
    """
    if period_end <= period_start:
        raise BillingInputError("The period must end after it starts.", param="period_end")
    existing = Invoice.objects.filter(organization=organization, period_start=period_start, period_end=period_end)
    found = existing.exclude(status=Invoice.Status.VOID).first()
    if found is not None:
        return found
    sequence = Invoice.objects.filter(organization=organization).count() + 1
    invoice = Invoice.objects.create(
        number=f"{organization.slug.upper()}-{period_start:%Y%m}-{sequence:04d}",
        organization=organization,
        period_start=period_start,
        period_end=period_end,
    )
    lines: list[InvoiceLine] = []
    if plan is None:
        subscription = Subscription.objects.filter(organization=organization).select_related("plan").first()
        plan = subscription.plan if subscription is not None else None
    if plan is not None and plan.monthly_price:
        lines.append(
            InvoiceLine(
                invoice=invoice, kind="subscription", description=f"{plan.name} plan", amount=plan.monthly_price
            )
        )
    usage_total = 0
    for row in usage_by_model(organization_id=organization.pk, start=period_start, end=period_end):
        usage_total += row["cost"] or 0
        lines.append(
            InvoiceLine(
                invoice=invoice,
                kind="usage",
                description=f"{row['model']} ({row['modality']}) via {row['provider'] or '-'}",
                provider=row["provider"],
                model=row["model"],
                quantity=row["requests"],
                amount=row["cost"] or 0,
            )
        )
    if plan is not None:
        included = min(usage_total, plan.included_credits)
        if included:
            lines.append(
                InvoiceLine(invoice=invoice, kind="included", description="Included credits", amount=-included)
            )
        beyond = usage_total - included
        if beyond and plan.overage_policy == plan.Overage.BLOCK:
            lines.append(
                InvoiceLine(invoice=invoice, kind="prepaid", description="Paid from prepaid credits", amount=-beyond)
            )
        elif beyond and plan.overage_rate_percent != 100:
            lines.append(
                InvoiceLine(
                    invoice=invoice,
                    kind="overage",
                    description=f"Overage at {plan.overage_rate_percent}% of list price",
                    amount=beyond * (plan.overage_rate_percent - 100) // 100,
                )
            )
    InvoiceLine.objects.bulk_create(lines)
    invoice.usage_total = usage_total
    invoice.total = sum(line.amount for line in lines)
    invoice.status = Invoice.Status.OPEN
    invoice.issued_at = timezone.now()
    if invoice.total <= 0:
        invoice.status, invoice.paid_at = Invoice.Status.PAID, invoice.issued_at
    invoice.save()
    return invoice


def invoice_void(*, invoice: Invoice) -> Invoice:
    if invoice.status == Invoice.Status.PAID:
        raise InvoiceStateError("A paid invoice cannot be voided: record a refund instead.")
    invoice.status = Invoice.Status.VOID
    invoice.save(update_fields=["status"])
    return invoice


def invoice_delete(*, invoice: Invoice) -> None:
    """Delete an invoice that records no money received; a paid invoice is kept for good."""
    if invoice.status == Invoice.Status.PAID:
        raise InvoiceStateError("A paid invoice cannot be deleted.")
    invoice.delete()


@transaction.atomic
def payment_record(*, invoice: Invoice, amount: int, method: str = "manual", reference: str = "") -> Payment:
    """Record a received payment; the invoice is paid once its payments cover the total."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status not in (Invoice.Status.OPEN, Invoice.Status.DRAFT):
        raise InvoiceStateError(f"This invoice is {invoice.status}: payments go to open invoices.")
    if amount <= 0:
        raise BillingInputError("A payment must be a positive amount.", param="amount")
    payment = Payment.objects.create(invoice=invoice, amount=amount, method=method[:30], reference=reference[:200])
    paid = invoice.payments.aggregate(total=Sum("amount"))["total"] or 0
    if paid >= invoice.total:
        invoice.status, invoice.paid_at = Invoice.Status.PAID, timezone.now()
        invoice.save(update_fields=["status", "paid_at"])
    return payment
