"""Webhook endpoints, and the deliveries created when a job changes state.

A delivery is created in the same transaction as the job's change of state and queued once that
commits, so an event is never sent for a change that was rolled back, nor lost for one that was
committed. Each HTTP attempt is logged; failures are retried on ``WEBHOOKS_RETRY_DELAYS``.
"""

from __future__ import annotations

import base64
import os
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Organization
from core.crypto import DecryptionFailed, encrypt, reencrypt
from jobs import queue
from jobs.exceptions import InvalidWebhookEndpoint
from jobs.models import Job, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from jobs.netguard import webhook_url_validate
from jobs.payloads import job_payload
from jobs.types import WEBHOOK_EVENT_TYPES

#: Per-job webhooks (``webhook`` in POST /v1/jobs) get the final outcome only.
JOB_WEBHOOK_EVENTS = frozenset({"job.succeeded", "job.failed", "job.cancelled"})


def webhook_secret_generate() -> str:
    """A new Standard Webhooks secret: ``whsec_`` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def _check_event_types(event_types: list[str]) -> list[str]:
    unknown = sorted(set(event_types) - set(WEBHOOK_EVENT_TYPES))
    if unknown:
        raise InvalidWebhookEndpoint(
            f"Unknown event type {unknown[0]!r}: use {', '.join(WEBHOOK_EVENT_TYPES)}.", param="event_types"
        )
    return sorted(set(event_types))


def _validated(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """``full_clean``, its first complaint turned into an error naming the field."""
    try:
        endpoint.full_clean()
    except ValidationError as exc:
        field, problems = next(iter(exc.message_dict.items()))
        raise InvalidWebhookEndpoint(" ".join(problems), param=field) from exc
    return endpoint


def webhook_endpoint_create(
    *, organization: Organization, url: str, event_types: list[str], description: str = "", is_active: bool = True
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it and its secret (shown to the caller once, stored encrypted).

    :raises UnsafeWebhookUrl: not http(s), or a refused address literal (connections are checked again).
    :raises InvalidWebhookEndpoint: another field is invalid; nothing is saved.
    """
    webhook_url_validate(url)
    secret = webhook_secret_generate()
    endpoint = WebhookEndpoint(
        organization=organization,
        url=url,
        description=description,
        is_active=is_active,
        event_types=_check_event_types(event_types),
        secret=encrypt(secret),
    )
    _validated(endpoint).save()
    return endpoint, secret


#: What :func:`webhook_endpoint_update` may change (never the organisation or the secret).
UPDATABLE_FIELDS = ("url", "event_types", "description", "is_active")


def webhook_endpoint_update(*, endpoint: WebhookEndpoint, **changes: Any) -> WebhookEndpoint:
    """Change ``url``, ``event_types``, ``description`` or ``is_active``; all or nothing.

    :raises UnsafeWebhookUrl, InvalidWebhookEndpoint: as for :func:`webhook_endpoint_create`.
    """
    unknown = sorted(set(changes) - set(UPDATABLE_FIELDS))
    if unknown:
        raise InvalidWebhookEndpoint(f"{unknown[0]} cannot be changed.", param=unknown[0])
    if "url" in changes:
        webhook_url_validate(changes["url"])
    if "event_types" in changes:
        changes["event_types"] = _check_event_types(changes["event_types"])
    updated = WebhookEndpoint.objects.get(pk=endpoint.pk)  # a refused change leaves the caller's object as it was
    for name, value in changes.items():
        setattr(updated, name, value)
    _validated(updated).save(update_fields=list(changes) or None)
    return updated


def webhook_endpoint_secret_rotate(*, endpoint: WebhookEndpoint) -> tuple[WebhookEndpoint, str]:
    """Give the endpoint a new signing secret at once (returned once, stored encrypted); the old one stops."""
    secret = webhook_secret_generate()
    endpoint.secret = encrypt(secret)
    endpoint.save(update_fields=["secret"])
    return endpoint, secret


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint; its past deliveries stay in the log (their ``endpoint`` becomes empty)."""
    endpoint.delete()


def webhook_deliveries_create(*, job: Job, event_type: str) -> list[WebhookDelivery]:
    """Create the deliveries of one job event (the organisation's endpoints, and the job's own webhook)."""
    payload = {"type": event_type, "timestamp": timezone.now().isoformat(), "data": job_payload(job)}
    targets: list[tuple[WebhookEndpoint | None, str]] = [
        (endpoint, endpoint.url)
        for endpoint in WebhookEndpoint.objects.filter(organization_id=job.organization_id, is_active=True)
        if not endpoint.event_types or event_type in endpoint.event_types
    ]
    if job.webhook_url and event_type in JOB_WEBHOOK_EVENTS:
        targets.append((None, job.webhook_url))
    deliveries = [
        WebhookDelivery.objects.create(
            organization_id=job.organization_id,
            endpoint=endpoint,
            job=job,
            url=url,
            event_type=event_type,
            payload=payload,
        )
        for endpoint, url in targets
    ]
    for delivery in deliveries:
        delivery_id = str(delivery.id)
        transaction.on_commit(partial(queue.enqueue, queue.WEBHOOK_DELIVER, delivery_id))
    return deliveries


def webhook_attempt_record(
    *,
    delivery: WebhookDelivery,
    status_code: int | None,
    latency_ms: int,
    error: str,
    excerpt: str,
    final: bool = False,
) -> WebhookDelivery:
    """Log one attempt; mark the delivery done, schedule the next try, or give up after the last.

    :param final: give up now (a failure no retry can mend, e.g. a secret no key decrypts).
    """
    now = timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(id=delivery.id)
        delivery.attempts += 1
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            status_code=status_code,
            latency_ms=latency_ms,
            error=error[:300],
            response_excerpt=excerpt[:500],
        )
        delivery.last_status_code, delivery.last_latency_ms, delivery.last_error = status_code, latency_ms, error[:300]
        delays = settings.WEBHOOKS_RETRY_DELAYS
        if status_code is not None and 200 <= status_code < 300:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
                WebhookDelivery.Status.SUCCEEDED,
                now,
                None,
            )
        elif delivery.attempts <= len(delays) and not final:
            delivery.status = WebhookDelivery.Status.PENDING
            delivery.next_attempt_at = now + timedelta(seconds=delays[delivery.attempts - 1])
            queue.enqueue(queue.WEBHOOK_DELIVER, str(delivery.id), run_after=delivery.next_attempt_at)
        else:
            delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
        delivery.save()
    return delivery


def webhook_delivery_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now (same ``webhook-id``, so receivers can still deduplicate)."""
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(id=delivery.id)
        delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.PENDING, timezone.now()
        delivery.save(update_fields=["status", "next_attempt_at"])
        queue.enqueue(queue.WEBHOOK_DELIVER, str(delivery.id))
    return delivery


def webhook_secrets_reencrypt() -> tuple[int, list[str]]:
    """Encrypt every stored webhook secret (endpoints, and jobs that have not finished delivering)
    with the first ``FIELD_ENCRYPTION_KEY``.

    :returns: how many were re-encrypted, and which (``endpoint <id>`` / ``job <id>``) no key decrypts.
    """
    done, unreadable = 0, []
    sources = ((WebhookEndpoint, "secret", "endpoint"), (Job, "webhook_secret", "job"))
    for model, field, label in sources:
        for pk, token in model.objects.exclude(**{field: ""}).values_list("pk", field).iterator():
            try:
                fresh = reencrypt(token)
            except DecryptionFailed:
                unreadable.append(f"{label} {pk}")
                continue
            model.objects.filter(pk=pk).update(**{field: fresh})
            done += 1
    return done, unreadable
