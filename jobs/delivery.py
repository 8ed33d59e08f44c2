"""Sending one webhook attempt: sign per Standard Webhooks, post, follow redirects by hand, log it.

Headers: ``webhook-id`` (stable across retries), ``webhook-timestamp`` (this attempt) and
``webhook-signature`` (``v1,<base64 HMAC-SHA256>`` over ``id.timestamp.body``), so receivers
verify with the ``standardwebhooks`` library. Every hop of a redirect goes through the same
guarded transport and URL check, timeouts bound each attempt, and at most
``WEBHOOKS_MAX_RESPONSE_BYTES`` of the answer are read.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import structlog
from django.conf import settings
from django.utils import timezone
from standardwebhooks import Webhook

from core import tracing
from core.crypto import DecryptionFailed, decrypt
from jobs.exceptions import ApplicationError
from jobs.metrics import observe_webhook_attempt
from jobs.models import WebhookDelivery
from jobs.netguard import BlockedDestination, guarded_transport, webhook_url_validate
from jobs.services import webhook_attempt_record

log = structlog.get_logger("mcp.webhooks")

MAX_REDIRECTS = 3
#: The reason a delivery whose job was purged is failed with (shown in the admin and the API).
JOB_GONE_REASON = "not sent: its job was deleted after JOBS_RETENTION_DAYS, and the signing secret with it"
#: The reason a delivery whose secret cannot be decrypted is failed with (shown in the admin and the API).
UNDECRYPTABLE_REASON = (
    "not sent: the signing secret cannot be decrypted with FIELD_ENCRYPTION_KEY (the key changed or differs "
    "between web and worker); fix the key, then redeliver"
)
USER_AGENT = "MCP-Gateway-Webhooks/1"


@dataclass(frozen=True, slots=True)
class AttemptResult:
    status_code: int | None
    latency_ms: int
    error: str = ""
    excerpt: str = ""


def secret_signs(secret: str) -> bool:
    """Whether ``secret`` can sign deliveries: ``whsec_`` and base64 of at least one byte, as
    :func:`signed_headers` reads it. A caller's secret is checked with this at submission, since a
    delivery that cannot be signed is never sent."""
    if not secret.startswith("whsec_"):
        return False
    try:
        Webhook(secret)
    except Exception:  # noqa: BLE001 - the library raises binascii.Error or its own errors for a bad secret.
        return False
    return True


def signed_headers(*, secret: str, message_id: str, body: str, at: datetime | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``."""
    at = at or datetime.now(tz=UTC)
    signature = Webhook(secret).sign(message_id, at, body)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def _secret_of(delivery: WebhookDelivery) -> str:
    if delivery.endpoint is not None:
        return decrypt(delivery.endpoint.secret)
    return decrypt(delivery.job.webhook_secret) if delivery.job is not None else ""


def _read_capped(response: httpx.Response, limit: int) -> bytes:
    kept = b""
    for chunk in response.iter_bytes():
        kept += chunk[: max(0, limit - len(kept))]
        if len(kept) >= limit:
            break  # the rest is not read: a huge or endless answer cannot tie the worker up
    return kept


def post(
    url: str, body: str, headers: dict[str, str], *, transport: httpx.BaseTransport | None = None
) -> AttemptResult:
    """POST ``body`` to ``url`` once (redirects included); never raises for network outcomes."""
    started = time.perf_counter()
    timeout = httpx.Timeout(settings.WEBHOOKS_TIMEOUT_SECONDS)

    def result(status: int | None, error: str = "", excerpt: bytes = b"") -> AttemptResult:
        elapsed = int((time.perf_counter() - started) * 1000)
        return AttemptResult(status, elapsed, error, excerpt.decode("utf-8", "replace"))

    with httpx.Client(transport=transport or guarded_transport(), timeout=timeout, follow_redirects=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                webhook_url_validate(url)
                with client.stream("POST", url, content=body.encode(), headers=headers) as response:
                    excerpt = _read_capped(response, settings.WEBHOOKS_MAX_RESPONSE_BYTES)
                    location = response.headers.get("location") if response.is_redirect else None
                    if location is None:
                        return result(response.status_code, "" if response.is_success else "non-2xx", excerpt)
                    url = str(response.url.join(location))
            except (ApplicationError, BlockedDestination) as exc:
                return result(None, f"refused: {exc}")
            except httpx.TimeoutException:
                return result(None, "timeout")
            except httpx.HTTPError as exc:
                return result(None, f"connection failed: {type(exc).__name__}")
        return result(None, "too many redirects")


def _post_traced(
    delivery: WebhookDelivery, body: str, headers: dict[str, str], transport: httpx.BaseTransport | None
) -> AttemptResult:
    """Post one attempt; a job's deliveries join the trace of the request that submitted it, and the
    receiver gets the delivery span's ``traceparent``."""
    with (
        tracing.carrier_context(delivery.job.forward_headers if delivery.job is not None else None),
        tracing.span("mcp.webhook.deliver", kind=tracing.SpanKind.CLIENT) as span,
    ):
        tracing.inject(headers)
        outcome = post(delivery.url, body, headers, transport=transport)
        if span is not None:
            span.set_attributes(
                {
                    "mcp.webhook.delivery_id": str(delivery.id),
                    "mcp.webhook.event": delivery.event_type,
                    "mcp.webhook.attempt": delivery.attempts + 1,
                    "mcp.webhook.error": outcome.error,
                    "http.response.status_code": outcome.status_code or 0,
                }
            )
        return outcome


def webhook_delivery_attempt(*, delivery_id: str, transport: httpx.BaseTransport | None = None) -> WebhookDelivery:
    """Make the delivery's next attempt (if it is still due) and record how it went."""
    delivery = WebhookDelivery.objects.select_related("endpoint", "job").get(id=delivery_id)
    due = delivery.next_attempt_at is None or delivery.next_attempt_at <= timezone.now() + timedelta(seconds=1)
    if delivery.status != WebhookDelivery.Status.PENDING or not due:
        return delivery  # already delivered, given up, or superseded by a manual redelivery
    body = json.dumps(delivery.payload, separators=(",", ":"))
    try:
        secret = _secret_of(delivery)
    except DecryptionFailed:
        # Nothing is sent unsigned, and no retry can mend it: fail now, saying why (never the secret).
        log.error("webhook_secret_undecryptable", delivery=str(delivery.id))
        outcome, final = AttemptResult(None, 0, UNDECRYPTABLE_REASON, ""), True
    else:
        if secret:
            headers = signed_headers(secret=secret, message_id=delivery.message_id, body=body)
            outcome, final = _post_traced(delivery, body, headers, transport), False
        else:
            # Its job was deleted (past JOBS_RETENTION_DAYS), and the signing secret with it.
            log.warning("webhook_job_gone", delivery=str(delivery.id))
            outcome, final = AttemptResult(None, 0, JOB_GONE_REASON, ""), True
    log.info(
        "webhook_attempt",
        delivery=str(delivery.id),
        status=outcome.status_code,
        error=outcome.error,
        latency_ms=outcome.latency_ms,
    )
    recorded = webhook_attempt_record(
        delivery=delivery,
        status_code=outcome.status_code,
        latency_ms=outcome.latency_ms,
        error=outcome.error,
        excerpt=outcome.excerpt,
        final=final,
    )
    observe_webhook_attempt(
        delivered=recorded.status == WebhookDelivery.Status.SUCCEEDED,
        gave_up=recorded.status == WebhookDelivery.Status.FAILED,
        created=recorded.created_at,
    )
    return recorded
