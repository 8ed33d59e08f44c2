"""Async jobs, the webhook endpoints organisations register, and the log of every delivery."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from accounts.models import Organization
from jobs.types import JobKind, JobStatus


class Job(models.Model):
    """One unit of asynchronous work: a generation request executed by a worker.

    ``attempt`` is the fencing token: a worker may only move a running job on while the attempt
    it claimed is still the job's current one, so a worker presumed dead can never finish (or
    charge) a job that was handed to another.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="jobs")
    key_id = models.BigIntegerField(null=True, blank=True, help_text="The API key that submitted the job.")
    user_id = models.BigIntegerField(null=True, blank=True)
    kind = models.CharField(max_length=20, choices=JobKind.choices)
    model = models.CharField(max_length=200)
    params = models.JSONField(default=dict, blank=True, help_text="The request body of the synchronous endpoint.")
    forward_headers = models.JSONField(default=dict, blank=True, help_text="MCP_FORWARD_HEADERS sent with the job.")
    input_name = models.CharField(max_length=300, blank=True, help_text="Stored upload (transcription).")
    input_content_type = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)
    priority = models.SmallIntegerField(default=0)
    attempt = models.PositiveSmallIntegerField(default=1)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    max_running = models.PositiveSmallIntegerField(default=4, help_text="The organisation's cap on running jobs.")
    task_id = models.CharField(max_length=64, blank=True, help_text="The queue entry of the current attempt.")
    worker_id = models.CharField(max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 - NULL: no key, unconstrained
    request_hash = models.CharField(max_length=64, blank=True)
    public_base_url = models.CharField(max_length=300, blank=True, help_text="Where result URLs point.")
    webhook_url = models.URLField(max_length=2000, blank=True)
    webhook_secret = models.TextField(blank=True, help_text="Encrypted.")
    result_name = models.CharField(max_length=300, blank=True)
    result_content_type = models.CharField(max_length=200, blank=True)
    result_bytes = models.BigIntegerField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    usage = models.JSONField(null=True, blank=True)
    provider = models.CharField(max_length=100, blank=True)
    charged_at = models.DateTimeField(null=True, blank=True, help_text="Set once, when usage was reported.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    run_after = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="job_org_created"),
            models.Index(fields=["organization", "status"], name="job_org_status"),
            models.Index(fields=["status", "heartbeat_at"], name="job_status_heartbeat"),
            models.Index(fields=["organization", "updated_at"], name="job_org_updated"),
            # The purge's query: finished jobs, oldest first.
            models.Index(fields=["status", "finished_at"], name="job_status_finished"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="job_unique_idempotency_key",
            ),
            models.CheckConstraint(condition=models.Q(status__in=JobStatus.values), name="job_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} job {self.id} ({self.status})"

    @property
    def request_id(self) -> str:
        """The usage ledger's idempotency key: the same for every attempt, so a job is charged once."""
        return f"job-{self.id}"


class WebhookEndpoint(models.Model):
    """A URL an organisation wants job events delivered to, signed with its own secret."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    secret = models.TextField(help_text="Encrypted Standard Webhooks secret (whsec_…).")
    event_types = models.JSONField(default=list, blank=True, help_text="Empty: every event.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organization__slug", "-created_at"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event for one destination, retried until it is accepted or the schedule runs out."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhook_deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries")
    url = models.URLField(max_length=2000)
    event_type = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["organization", "-created_at"], name="delivery_org_created")]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.url} ({self.status})"

    @property
    def message_id(self) -> str:
        """``webhook-id``: the same on every retry, so receivers can deduplicate."""
        return f"msg_{self.id.hex}"


class WebhookAttempt(models.Model):
    """One HTTP attempt of a delivery: what came back and how long it took."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.status_code or self.error}"
