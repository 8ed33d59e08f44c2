"""Billing models: plans, subscriptions, prices, credits, the usage ledger, invoices and payments.

Money is an integer number of credit micro-units everywhere (1 credit = 1,000,000 units, the unit
of :class:`plugins.types.PriceRule`), so sums are exact.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from accounts.models import Organization

MICRO = 1_000_000
#: Larger prices are refused as typos: one million credits per unit.
MAX_UNIT_PRICE = 1_000_000 * MICRO
_price = [MinValueValidator(0), MaxValueValidator(MAX_UNIT_PRICE)]


class Plan(models.Model):
    """What an organisation pays and may use. Empty limits mean "unlimited"."""

    class Overage(models.TextChoices):
        BLOCK = "block", "Block when credits run out (402)"
        BILL = "bill", "Allow and bill the overage"

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    monthly_price = models.BigIntegerField(default=0, validators=_price, help_text="Credit micro-units per period.")
    included_credits = models.BigIntegerField(default=0, validators=_price, help_text="Granted each period (micro).")
    requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    user_requests_per_minute = models.PositiveIntegerField(null=True, blank=True, help_text="Per member.")
    concurrent_requests = models.PositiveIntegerField(null=True, blank=True)
    token_quota = models.BigIntegerField(null=True, blank=True, validators=[MinValueValidator(0)])
    image_quota = models.BigIntegerField(null=True, blank=True, validators=[MinValueValidator(0)])
    audio_seconds_quota = models.BigIntegerField(null=True, blank=True, validators=[MinValueValidator(0)])
    allowed_models = models.JSONField(default=list, blank=True, help_text="Empty: any model.")
    overage_policy = models.CharField(max_length=10, choices=Overage.choices, default=Overage.BLOCK)
    overage_rate_percent = models.PositiveIntegerField(
        default=100, validators=[MaxValueValidator(10_000)], help_text="Overage billed at this % of list price."
    )
    job_priority = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(100)], help_text="Async jobs: 0–100, higher runs first."
    )
    max_running_jobs = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text="Async jobs running at once per organisation; empty: JOBS_MAX_RUNNING_PER_ORG.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["monthly_price", "slug"]

    def __str__(self) -> str:
        return self.name


class Subscription(models.Model):
    class Status(models.TextChoices):
        TRIALING = "trialing"
        ACTIVE = "active"
        PAST_DUE = "past_due"
        CANCELLED = "cancelled"

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="subscription")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    current_period_start = models.DateTimeField()
    current_period_end = models.DateTimeField()
    next_plan = models.ForeignKey(
        Plan, null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="Applied at renewal."
    )
    cancel_at_period_end = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["current_period_end"], name="subscription_period_end")]

    def __str__(self) -> str:
        return f"{self.organization} on {self.plan} ({self.status})"


class Price(models.Model):
    """List price of one model, optionally for one provider instance (blank: any provider)."""

    provider = models.CharField(max_length=64, blank=True, help_text="Provider instance name; blank: any.")
    model = models.CharField(max_length=200)
    per_1k_input_tokens = models.BigIntegerField(default=0, validators=_price)
    per_1k_output_tokens = models.BigIntegerField(default=0, validators=_price)
    per_image = models.BigIntegerField(default=0, validators=_price)
    per_image_by_size = models.JSONField(default=dict, blank=True, help_text='e.g. {"1024x1024": 20000}')
    per_audio_second = models.BigIntegerField(default=0, validators=_price)
    per_1k_characters = models.BigIntegerField(default=0, validators=_price)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model", "provider"]
        constraints = [models.UniqueConstraint(fields=["provider", "model"], name="price_unique_provider_model")]

    def __str__(self) -> str:
        return f"{self.model} @ {self.provider or 'any'}"


class ProviderLimit(models.Model):
    """Service-level limits protecting an upstream's own quota, across every organisation."""

    provider = models.CharField(max_length=64, unique=True, help_text="Provider instance name.")
    requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    concurrent_requests = models.PositiveIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return self.provider


class CreditAccount(models.Model):
    """An organisation's prepaid balance; ``balance`` = grants − settled ledger costs (micro-units)."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="credit_account")
    balance = models.BigIntegerField(default=0)
    overdraft = models.BigIntegerField(default=0, validators=_price, help_text="How far below zero it may go.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.organization}: {self.balance / MICRO:.6f} credits"


class CreditGrant(models.Model):
    """A top-up or a period's included credits (append-only)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="credit_grants")
    amount = models.BigIntegerField()
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.amount:+d} ({self.reason})"


class UsageEvent(models.Model):
    """One gateway request, however it ended. Append-only; ``request_id`` makes recording idempotent."""

    # Unique by a constraint, not unique=True: PostgreSQL would get a second index for LIKE
    # queries (varchar_pattern_ops) that nothing runs and every insert pays for.
    request_id = models.CharField(max_length=64, help_text="Assigned by the gateway at admission.")
    client_request_id = models.CharField(max_length=128, blank=True, help_text="X-Request-ID of the request.")
    created_at = models.DateTimeField(default=timezone.now)
    # No separate index: usage_org_time below starts with it.
    organization = models.ForeignKey(
        Organization, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    key_id = models.BigIntegerField(null=True, blank=True)
    user_id = models.BigIntegerField(null=True, blank=True)
    provider = models.CharField(max_length=64, blank=True)
    model = models.CharField(max_length=200)
    operation = models.CharField(max_length=20)
    modality = models.CharField(max_length=10)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    images = models.IntegerField(default=0)
    audio_seconds = models.FloatField(default=0)
    characters = models.BigIntegerField(default=0)
    usage_source = models.CharField(max_length=12, blank=True, help_text="upstream, counted, estimated or none.")
    cost = models.BigIntegerField(default=0, help_text="Credit micro-units.")
    status = models.PositiveSmallIntegerField()
    latency_ms = models.PositiveIntegerField(default=0)
    cache_hit = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # Invoices and per-organisation latency percentiles scan one organisation's time range;
            # latency_ms is included so percentiles are an index-only scan (PostgreSQL).
            models.Index(fields=["organization", "created_at"], include=["latency_ms"], name="usage_org_time"),
            models.Index(fields=["created_at"], name="usage_time"),
            models.Index(fields=["key_id", "created_at"], name="usage_key_time"),
        ]
        constraints = [models.UniqueConstraint(fields=["request_id"], name="usage_request_id_unique")]

    def __str__(self) -> str:
        return self.request_id

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise TypeError("The usage ledger is append-only: an event cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("The usage ledger is append-only: an event cannot be deleted.")


class Invoice(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        OPEN = "open"
        PAID = "paid"
        VOID = "void"

    number = models.CharField(max_length=40, unique=True)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="invoices")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    status = models.CharField(max_length=5, choices=Status.choices, default=Status.DRAFT)
    usage_total = models.BigIntegerField(default=0, help_text="Sum of the ledger's cost over the period.")
    total = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    issued_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-period_start", "organization_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "period_start", "period_end"],
                condition=~models.Q(status="void"),
                name="invoice_unique_period",
            )
        ]

    def __str__(self) -> str:
        return self.number


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=12, help_text="subscription, usage, included or overage.")
    description = models.CharField(max_length=300)
    provider = models.CharField(max_length=64, blank=True)
    model = models.CharField(max_length=200, blank=True)
    quantity = models.BigIntegerField(default=1)
    amount = models.BigIntegerField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.description


class Payment(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    amount = models.BigIntegerField(validators=[MinValueValidator(1)])
    method = models.CharField(max_length=30, help_text="manual, bank, or a payment plugin's name.")
    reference = models.CharField(max_length=200, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.amount} by {self.method}"


class UsageDaily(models.Model):
    """Daily roll-up of the ledger, kept in the same transaction as the ledger insert (analytics read it).

    One row per organisation, UTC day, provider, model, modality and key (0: no key).
    """

    organization_id = models.BigIntegerField()
    day = models.DateField()
    provider = models.CharField(max_length=64)
    model = models.CharField(max_length=200)
    modality = models.CharField(max_length=10)
    key_id = models.BigIntegerField(default=0)
    requests = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    cost = models.BigIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    images = models.BigIntegerField(default=0)
    latency_ms_sum = models.BigIntegerField(default=0)
    latency_ms_max = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization_id", "day", "provider", "model", "modality", "key_id"], name="usage_daily_unique"
            )
        ]
        indexes = [models.Index(fields=["day"], name="usage_daily_day")]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.day} {self.model}"
