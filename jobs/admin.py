"""Back-office: jobs (filter by state, retry, cancel), webhook endpoints and their delivery log.

Actions go through the services and report each refusal with ``message_user``.
"""

from __future__ import annotations

from django.contrib import admin, messages

from jobs import services
from jobs.exceptions import ApplicationError
from jobs.models import Job, WebhookAttempt, WebhookDelivery, WebhookEndpoint


def _each(modeladmin, request, queryset, service, done: str) -> None:
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
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "organization", "kind", "model", "status", "progress", "attempt", "created_at",
                    "finished_at")  # fmt: skip
    list_filter = ("status", "kind", "organization")
    search_fields = ("id", "model", "idempotency_key")
    date_hierarchy = "created_at"
    actions = ("retry_jobs", "cancel_jobs")
    exclude = ("webhook_secret",)
    readonly_fields = [f.name for f in Job._meta.fields if f.name != "webhook_secret"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Retry the selected failed or cancelled jobs")
    def retry_jobs(self, request, queryset) -> None:
        _each(self, request, queryset, lambda job: services.job_requeue(job=job), "job(s) queued again")

    @admin.action(description="Cancel the selected queued or running jobs")
    def cancel_jobs(self, request, queryset) -> None:
        _each(self, request, queryset, lambda job: services.job_cancel(job=job), "job(s) cancelled")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("url", "organization", "event_types", "is_active", "created_at")
    list_filter = ("is_active", "organization")
    search_fields = ("url", "description")
    exclude = ("secret",)
    readonly_fields = ("organization", "created_at")

    def has_add_permission(self, request) -> bool:
        return False  # created through the API, which shows the secret once


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("number", "status_code", "latency_ms", "error", "response_excerpt", "created_at")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("event_type", "url", "status", "attempts", "last_status_code", "last_latency_ms", "created_at")
    list_filter = ("status", "event_type", "organization")
    search_fields = ("url", "id")
    inlines = (WebhookAttemptInline,)
    actions = ("redeliver",)
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Redeliver the selected deliveries now")
    def redeliver(self, request, queryset) -> None:
        _each(
            self, request, queryset, lambda d: services.webhook_delivery_redeliver(delivery=d), "delivery(ies) queued"
        )
