"""Back-office for billing: plans, prices, limits, subscriptions, credits, the ledger (read-only), invoices."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django_stubs_ext import WithAnnotations

from accounts.models import ApiKey, Organization
from billing import services
from billing.analytics import analytics_view
from billing.exceptions import ApplicationError
from billing.models import (
    CreditAccount,
    Invoice,
    InvoiceLine,
    Payment,
    Plan,
    Price,
    ProviderLimit,
    Subscription,
    UsageEvent,
)
from billing.rendering import invoice_csv, invoice_html, invoice_pdf
from core.admin import ModelAdmin


class PlanAdminForm(forms.ModelForm):
    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if not self.errors:
            try:
                services.plan_validate(plan=Plan(allowed_models=cleaned.get("allowed_models") or []))
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned


class PriceAdminForm(forms.ModelForm):
    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if not self.errors:
            fields = {k: cleaned.get(k) for k in ("provider", "model", "per_image_by_size")}
            try:
                services.price_validate(price=Price(**fields))
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned


class _EventNames(TypedDict):
    organization_slug: str | None
    api_key_name: str | None


@admin.register(Plan)
class PlanAdmin(ModelAdmin):
    list_display = [
        "slug",
        "name",
        "monthly_price",
        "included_credits",
        "requests_per_minute",
        "concurrent_requests",
        "overage_policy",
        "job_priority",
        "max_running_jobs",
        "is_active",
    ]
    prepopulated_fields = {"slug": ("name",)}
    form = PlanAdminForm


@admin.register(Price)
class PriceAdmin(ModelAdmin):
    list_display = [
        "model",
        "provider",
        "per_1k_input_tokens",
        "per_1k_output_tokens",
        "per_image",
        "per_audio_second",
        "per_1k_characters",
    ]
    search_fields = ["model", "provider"]
    form = PriceAdminForm


@admin.register(ProviderLimit)
class ProviderLimitAdmin(ModelAdmin):
    list_display = ["provider", "requests_per_minute", "concurrent_requests"]


@admin.register(Subscription)
class SubscriptionAdmin(ModelAdmin):
    list_display = ["organization", "plan", "status", "current_period_start", "current_period_end", "next_plan"]
    list_filter = ["status", "plan"]
    autocomplete_fields = ["organization"]
    actions = ["close_period"]

    @admin.action(description="End the current period now and issue its invoice")
    def close_period(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
        for subscription in queryset:
            try:
                services.subscription_close_period(subscription=subscription)
            except ApplicationError as exc:
                self.message_user(request, f"{subscription}: {exc.message}", messages.ERROR)

    def get_readonly_fields(self, request: HttpRequest, obj: Subscription | None = None) -> list[str]:
        return ["current_period_start", "current_period_end"] if obj else []

    def get_fields(self, request: HttpRequest, obj: Subscription | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("organization", "plan", "status")
        return (
            "organization",
            "plan",
            "status",
            "current_period_start",
            "current_period_end",
            "next_plan",
            "cancel_at_period_end",
        )

    def save_model(
        self, request: HttpRequest, obj: Subscription, form: forms.ModelForm[Subscription], change: bool
    ) -> None:
        try:
            if not change:
                created = services.subscription_create(organization=obj.organization, plan=obj.plan, status=obj.status)
                obj.pk = created.pk
            elif "plan" in form.changed_data:
                old_plan = Subscription.objects.get(pk=obj.pk).plan
                new_plan = obj.plan
                obj.plan = old_plan
                super().save_model(request, obj, form, change)
                services.subscription_change_plan(subscription=obj, plan=new_plan)
            else:
                super().save_model(request, obj, form, change)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)


@admin.register(CreditAccount)
class CreditAccountAdmin(ModelAdmin):
    list_display = ["organization", "balance", "overdraft", "updated_at"]
    readonly_fields = ["organization", "balance"]
    actions = ["grant_ten_credits"]

    @admin.action(description="Grant 10 credits")
    def grant_ten_credits(self, request: HttpRequest, queryset: QuerySet[CreditAccount]) -> None:
        for account in queryset:
            services.credits_grant(organization=account.organization, amount=10_000_000, reason="admin top-up")
        self.message_user(request, "Granted.", messages.SUCCESS)

    def save_model(
        self, request: HttpRequest, obj: CreditAccount, form: forms.ModelForm[CreditAccount], change: bool
    ) -> None:
        services.credit_account_ensure(organization=obj.organization, overdraft=obj.overdraft)


@admin.register(UsageEvent)
class UsageEventAdmin(ModelAdmin):
    """The ledger: read-only, append-only."""

    list_display = [
        "created_at",
        "organization_name",
        "api_key",
        "provider",
        "model",
        "status",
        "cost",
        "input_tokens",
        "output_tokens",
        "images",
        "latency_ms",
        "cache_hit",
    ]
    list_filter = ["status", "modality", "cache_hit", "usage_source"]
    search_fields = ["request_id", "client_request_id", "model"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    change_list_template = "billing/usageevent_change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[UsageEvent]:
        # The ledger holds bare ids (no foreign keys on the hot table): the names come in the page's one query.
        return (
            super()
            .get_queryset(request)
            .annotate(
                organization_slug=Subquery(Organization.objects.filter(pk=OuterRef("organization_id")).values("slug")),
                api_key_name=Subquery(ApiKey.objects.filter(pk=OuterRef("key_id")).values("name")),
            )
        )

    @admin.display(description="Organization", ordering="organization_id")
    def organization_name(self, obj: WithAnnotations[UsageEvent, _EventNames]) -> str:
        return obj.organization_slug or f"#{obj.organization_id}"

    @admin.display(description="Key", ordering="key_id")
    def api_key(self, obj: WithAnnotations[UsageEvent, _EventNames]) -> str:
        if obj.key_id is None:
            return "-"
        return obj.api_key_name or f"#{obj.key_id}"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: UsageEvent | None = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        analytics = self.admin_site.admin_view(lambda request: analytics_view(self.admin_site, request))
        return [path("analytics/", analytics, name="billing_analytics"), *super().get_urls()]

    def has_delete_permission(self, request: HttpRequest, obj: UsageEvent | None = None) -> bool:
        return False


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    readonly_fields = ["kind", "description", "provider", "model", "quantity", "amount"]

    def has_add_permission(self, request: HttpRequest, obj: Invoice | None = None) -> bool:
        return False


class PaymentInline(admin.TabularInline):
    model = Payment
    extra = 0
    can_delete = False
    readonly_fields = ["amount", "method", "reference", "received_at"]

    def has_add_permission(self, request: HttpRequest, obj: Invoice | None = None) -> bool:
        return False


@admin.register(Invoice)
class InvoiceAdmin(ModelAdmin):
    list_display = ["number", "organization", "period_start", "period_end", "status", "total", "documents"]
    list_filter = ["status"]
    readonly_fields = [
        "number",
        "organization",
        "period_start",
        "period_end",
        "status",
        "usage_total",
        "total",
        "issued_at",
        "paid_at",
    ]
    inlines = [InvoiceLineInline, PaymentInline]
    actions = ["mark_paid", "void"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Invoice | None = None) -> bool:
        # A paid invoice is a record of money received: never deleted (void or refund the others).
        return obj is None or obj.status != Invoice.Status.PAID

    def delete_model(self, request: HttpRequest, obj: Invoice) -> None:
        services.invoice_delete(invoice=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        for invoice in queryset:
            try:
                services.invoice_delete(invoice=invoice)
            except ApplicationError as exc:
                self.message_user(request, f"{invoice}: {exc.message}", messages.ERROR)

    @admin.display(description="Documents")
    def documents(self, obj: Invoice) -> str:
        return format_html(
            '<a href="{}">HTML</a> · <a href="{}">PDF</a> · <a href="{}">CSV</a>',
            *(reverse(f"admin:billing_invoice_{kind}", args=[obj.pk]) for kind in ("html", "pdf", "csv")),
        )

    def get_urls(self) -> list[URLPattern]:
        def view(
            render: Callable[[Invoice], str | bytes], content_type: str, extension: str
        ) -> Callable[[HttpRequest, int], HttpResponse]:
            def serve(request: HttpRequest, pk: int) -> HttpResponse:
                invoice = self.get_object(request, str(pk))
                if invoice is None:
                    raise Http404("No such invoice.")
                response = HttpResponse(render(invoice), content_type=content_type)
                if extension != "html":
                    response["Content-Disposition"] = f'attachment; filename="{invoice.number}.{extension}"'
                return response

            return self.admin_site.admin_view(serve)

        return [
            path("<int:pk>/html/", view(invoice_html, "text/html", "html"), name="billing_invoice_html"),
            path("<int:pk>/pdf/", view(invoice_pdf, "application/pdf", "pdf"), name="billing_invoice_pdf"),
            path("<int:pk>/csv/", view(invoice_csv, "text/csv", "csv"), name="billing_invoice_csv"),
            *super().get_urls(),
        ]

    @admin.action(description="Record full manual payment")
    def mark_paid(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        for invoice in queryset:
            try:
                services.payment_record(invoice=invoice, amount=max(1, invoice.total), method="manual")
            except ApplicationError as exc:
                self.message_user(request, f"{invoice}: {exc.message}", messages.ERROR)

    @admin.action(description="Void")
    def void(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        for invoice in queryset:
            try:
                services.invoice_void(invoice=invoice)
            except ApplicationError as exc:
                self.message_user(request, f"{invoice}: {exc.message}", messages.ERROR)
