"""Back-office: jobs (filter by state, retry, cancel), webhook endpoints and their delivery log.

Actions go through the services and report each refusal with ``message_user``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import ModelAdmin
from jobs import services
from jobs.exceptions import ApplicationError
from jobs.models import Job, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from jobs.netguard import webhook_url_validate
from jobs.types import WEBHOOK_EVENT_TYPES


def _each(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[Any],
    service: Callable[[Any], object],
    done: str,
) -> None:
    count = 0
    for obj in queryset:
        try:
            service(obj)
            count += 1
        except ApplicationError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.message}", messages.WARNING)
    if count:
        modeladmin.message_user(request, f"{count} {done}.", messages.SUCCESS)


@admin.register(Job)
class JobAdmin(ModelAdmin):
    list_display = ("id", "organization", "kind", "model", "status", "progress", "attempt", "created_at", "finished_at")
    list_filter = ("status", "kind", "organization")
    search_fields = ("id", "model", "idempotency_key")
    date_hierarchy = "created_at"
    actions = ("retry_jobs", "cancel_jobs")
    exclude = ("webhook_secret",)
    readonly_fields = [f.name for f in Job._meta.fields if f.name != "webhook_secret"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Retry the selected failed or cancelled jobs")
    def retry_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        _each(self, request, queryset, lambda job: services.job_requeue(job=job), "job(s) queued again")

    @admin.action(description="Cancel the selected queued or running jobs")
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        _each(self, request, queryset, lambda job: services.job_cancel(job=job), "job(s) cancelled")


class WebhookEndpointForm(forms.ModelForm):
    """The endpoint's editable fields; the URL is checked as the API checks it (connections are checked again)."""

    url = forms.URLField(max_length=2000, assume_scheme="https")

    event_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in WEBHOOK_EVENT_TYPES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None selected: every event.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("organization", "url", "description", "event_types", "is_active")

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            webhook_url_validate(url)
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message) from None
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ModelAdmin):
    """Created and changed through the services; a new endpoint's secret is shown once, in a message."""

    form = WebhookEndpointForm
    list_display = ("url", "organization", "event_types", "is_active", "created_at")
    list_filter = ("is_active", "organization")
    search_fields = ("url", "description")

    def get_readonly_fields(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> tuple[str, ...]:
        return ("organization", "created_at") if obj is not None else ("created_at",)

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: WebhookEndpointForm, change: bool) -> None:
        if change:
            changes = {name: form.cleaned_data[name] for name in form.changed_data if name in services.UPDATABLE_FIELDS}
            services.webhook_endpoint_update(endpoint=obj, **changes)
            return
        endpoint, secret = services.webhook_endpoint_create(
            organization=obj.organization,
            url=obj.url,
            description=obj.description,
            event_types=list(obj.event_types),
            is_active=obj.is_active,
        )
        obj.pk, obj.secret, obj.created_at = endpoint.pk, endpoint.secret, endpoint.created_at
        self.message_user(
            request,
            f"Signing secret of {endpoint.url}: {secret} — copy it now, it will not be shown again.",
            messages.WARNING,
        )


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("number", "status_code", "latency_ms", "error", "response_excerpt", "created_at")

    def has_add_permission(self, request: HttpRequest, obj: WebhookDelivery | None = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ModelAdmin):
    list_display = (
        "event_type",
        "url",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "last_latency_ms",
        "created_at",
    )
    list_filter = ("status", "event_type", "organization")
    search_fields = ("url", "id")
    inlines = (WebhookAttemptInline,)
    actions = ("redeliver",)
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Redeliver the selected deliveries now")
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        _each(
            self, request, queryset, lambda d: services.webhook_delivery_redeliver(delivery=d), "delivery(ies) queued"
        )
