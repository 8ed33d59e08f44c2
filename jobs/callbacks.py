"""Inbound provider callbacks: ``POST /v1/jobs/callbacks/<provider>`` reports a finished job.

The request must carry a valid Standard Webhooks signature made with ``JOBS_CALLBACK_SECRET``
and a timestamp within five minutes (checked by ``standardwebhooks``); each ``webhook-id`` is
accepted once (remembered in the shared cache), so a captured callback cannot be replayed. A
plugin's ``mcp_job_callback`` hook translates the provider's body; without one, the body is read
in the gateway's shape: ``{"job_id", "status": "succeeded"|"failed", "content_type",
"result_base64", "error"}``. The job then finishes exactly as if its worker had finished it (an
image job's ``b64_json`` answer is stored as the image), it is billed once under its request id
``job-<id>``, and the worker still waiting on the upstream notices at its next heartbeat and stops.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses

import redis
import structlog
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from standardwebhooks import Webhook, WebhookVerificationError

from billing import hotpath as billing
from billing.pricing import estimate_usage
from core.errors import HttpError, invalid, require_method, unavailable
from gateway.pipeline import resolve_routes
from gateway.usage import report as usage_report
from jobs import services
from jobs.models import Job
from jobs.results import result_downloadable, result_name, store_bytes
from jobs.types import KIND_OPERATION, JobStatus
from plugins.registry import plugin_manager
from plugins.types import Caller, JobCallback, Outcome, ProviderCall

#: webhook-ids are remembered a little longer than the signature's 5-minute tolerance.
REPLAY_WINDOW_SECONDS = 600
CALLBACK_UNAVAILABLE = unavailable(
    "Callbacks cannot be checked for replays right now (the shared cache is unreachable); send it again later.",
    code="callback_unavailable",
    retry_after=5,
)
log = structlog.get_logger(__name__)


def _refused() -> HttpError:
    return HttpError(
        401,
        "The callback is unsigned, wrongly signed, too old or a replay; it was ignored.",
        type="authentication_error",
        code="callback_refused",
    )


def _default_translation(payload: dict) -> JobCallback:
    try:
        result = base64.b64decode(payload["result_base64"]) if payload.get("result_base64") else None
        return JobCallback(
            job_id=str(payload["job_id"]).removeprefix("job-"),
            succeeded=payload["status"] == "succeeded",
            content_type=str(payload.get("content_type") or "application/octet-stream"),
            result=result,
            error_message=str(payload.get("error") or ""),
        )
    except (KeyError, TypeError, binascii.Error):
        raise invalid("The callback body is not a job report: job_id and status are required.") from None


def _finish(report: JobCallback) -> tuple[str, Job | None]:
    """Finish the job as reported; returns the outcome and the job when it is now to be charged."""
    job = Job.objects.filter(id=report.job_id).first()
    if job is None or job.status != JobStatus.RUNNING:
        return "ignored", None
    if not report.succeeded or report.result is None:
        error = {"code": "provider_failed", "message": report.error_message or "The provider reported a failure."}
        services.job_fail_or_retry(job_id=str(job.id), attempt=job.attempt, error=error, retryable=False)
        return "failed", None
    result, content_type = result_downloadable(kind=job.kind, body=report.result, content_type=report.content_type)
    name = result_name(organization_id=job.organization_id, job_id=job.id.hex, content_type=content_type)
    stored = store_bytes(name, result)
    finished, charge = services.job_succeed(
        job_id=str(job.id),
        attempt=job.attempt,
        result=stored,
        content_type=content_type,
        size=len(result),
        usage=None,
        provider="callback",
    )
    if finished is None:
        return "ignored", None
    return "succeeded", finished if charge else None


async def _charge(job: Job) -> None:
    """Bill a job the provider finished, once, under its stable request id (the worker's attempt that
    was waiting releases its own admission when it notices). The callback reports no usage, so the
    job is billed what the request bounds: its estimate (e.g. ``n`` images)."""
    call = ProviderCall(KIND_OPERATION[job.kind], job.model, "text", job.request_id, payload=dict(job.params))
    routes = await resolve_routes(call)
    call.modality = routes[0].model.modality
    caller = Caller(job.organization_id, job.key_id, job.user_id)
    usage = dataclasses.replace(estimate_usage(call, settings.BILLING_DEFAULT_MAX_TOKENS), source="estimated")
    outcome = Outcome(routes[0].provider.name, 200, usage)
    await billing.bill_done(
        call=call, caller=caller, provider=routes[0].provider, ledger_id=job.request_id, outcome=outcome
    )
    usage_report(call=call, caller=caller, outcome=outcome)


async def provider_callback(request: HttpRequest, provider: str) -> HttpResponse:
    require_method(request.method, "POST")
    secret = settings.JOBS_CALLBACK_SECRET
    if not secret:
        raise HttpError(404, "Provider callbacks are not enabled (JOBS_CALLBACK_SECRET).", code="not_found")
    headers = {name: request.headers.get(name, "") for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    try:
        payload = Webhook(secret).verify(request.body, headers)
    except WebhookVerificationError:
        raise _refused() from None
    # Accept each message once across all replicas: add() is atomic set-if-absent in the shared cache.
    # Without the cache a replay cannot be told apart: refuse for now, and the provider retries.
    try:
        first = await sync_to_async(cache.add)(f"jobs:callback:{headers['webhook-id']}", 1, REPLAY_WINDOW_SECONDS)
    except redis.RedisError as exc:
        log.warning("jobs.callback_cache_unavailable", error_type=type(exc).__name__)
        raise CALLBACK_UNAVAILABLE from None
    if not first:
        raise _refused()
    if not isinstance(payload, dict):
        raise invalid("The callback body must be a JSON object.")
    report = plugin_manager().hook.mcp_job_callback(provider=provider, payload=payload) or _default_translation(payload)
    outcome, charged = await sync_to_async(_finish)(report)
    if charged is not None:
        await _charge(charged)
    return JsonResponse({"status": outcome}, status=200)


__all__ = ["provider_callback"]
