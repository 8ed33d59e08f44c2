"""``/v1/jobs``: submit work and get a job id at once, then read, list, cancel, and fetch results.

Served by the hot-path handler (no middleware): async views, the async ORM for the few queries a
job needs, ``sync_to_async`` for the one transactional write, and errors as ``core.errors.HttpError``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError

from accounts.types import KeyIdentity
from core.errors import READ_METHODS, HttpError, invalid, method_not_allowed, require_method
from core.numbers import plain_int
from gateway import validation
from gateway.auth import authenticate, authorize
from gateway.files import file_response, require_signature
from gateway.pipeline import forwarded_headers, resolve_routes
from jobs import selectors, services
from jobs.delivery import secret_signs
from jobs.exceptions import ApplicationError
from jobs.netguard import webhook_url_validate
from jobs.payloads import job_payload
from jobs.results import SALT as RESULT_SALT
from jobs.types import KIND_OPERATION, JobKind, JobStatus
from plugins.types import ProviderCall

MAX_TRANSCRIPTION_BYTES = 25 * 1024 * 1024
#: A result URL can outlive its result: deleted by a member, or purged with its job after JOBS_RETENTION_DAYS.
RESULT_GONE = "This job's result is no longer stored: it was deleted, or the job passed its retention period."
_DEFAULT_MODELS = {"image": "flux", "text": "openai", "speech": "openai-audio", "transcription": "whisper-large-v3"}
#: Each kind's ``request`` is checked as the body of its synchronous endpoint would be.
_VALIDATORS: dict[str, Callable[..., Any]] = {
    JobKind.IMAGE: validation.image_request,
    JobKind.TEXT: validation.chat_request,
    JobKind.SPEECH: validation.speech_request,
}


def _gateway_error(exc: ApplicationError) -> HttpError:
    return HttpError(exc.status, exc.message, type=exc.type, code=exc.code, param=exc.param)


def _handles(func: Callable[..., Awaitable[HttpResponse]]) -> Callable[..., Coroutine[Any, Any, HttpResponse]]:
    async def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return await func(request, *args, **kwargs)
        except HttpError:
            raise  # already the answer, headers included
        except ApplicationError as exc:
            # The hot-path handler answers HttpError; a service's named refusal becomes one, same shape.
            raise _gateway_error(exc) from None

    view.__name__ = func.__name__
    return view


@_handles
async def jobs_collection(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return await _job_create(request)
    if request.method == "GET":
        return await _job_list(request)
    raise method_not_allowed("POST", "GET")


@_handles
async def job_detail(request: HttpRequest, job_id: str) -> HttpResponse:
    identity = await authenticate(request)
    job = await selectors.job_get(organization_id=identity.organization_id, job_id=str(job_id))
    if request.method == "GET":
        return JsonResponse(job_payload(job))
    if request.method == "DELETE":
        job = await sync_to_async(services.job_cancel)(job=job)
        return JsonResponse(job_payload(job))
    raise method_not_allowed("GET", "DELETE")


async def job_result(request: HttpRequest, job_id: str) -> HttpResponse:
    """The result file, for whoever holds an unexpired signed URL (no API key needed)."""
    require_method(request.method, *READ_METHODS)
    require_signature(str(job_id), salt=RESULT_SALT, query=request.GET, hint="GET the job for a fresh one.")
    job = await selectors.job_with_result(job_id=str(job_id))
    if job is None:
        raise HttpError(404, RESULT_GONE, type="not_found_error", code="result_not_found")
    return await file_response(job.result_name, job.result_content_type, missing=RESULT_GONE)


async def _job_create(request: HttpRequest) -> HttpResponse:
    identity = await authenticate(request)
    upload: tuple[bytes, str] | None
    if (request.content_type or "").startswith("multipart/form-data"):
        kind, params, upload, webhook = _multipart_job(request)
    else:
        kind, params, upload, webhook = _json_job(validation.json_object(request))
    model = params.get("model") or _DEFAULT_MODELS[kind]
    await _authorise(identity, kind, model, upload)
    secret = webhook.get("secret") or (services.webhook_secret_generate() if webhook.get("url") else "")
    priority, max_running = await selectors.job_scheduling_get(identity=identity)
    job, created = await sync_to_async(services.job_create)(
        organization_id=identity.organization_id,
        key_id=identity.key_id,
        user_id=identity.user_id,
        kind=kind,
        model=model,
        params=params,
        input_bytes=upload[0] if upload else None,
        input_content_type=upload[1] if upload else "",
        webhook_url=webhook.get("url", ""),
        webhook_secret=secret,
        idempotency_key=_idempotency_key(request),
        priority=priority,
        max_running=max_running,
        public_base_url=request.build_absolute_uri("/").rstrip("/"),
        forward_headers=forwarded_headers(request),
    )
    payload = job_payload(job)
    if created and webhook.get("url") and not webhook.get("secret"):
        payload["webhook_secret"] = secret  # generated for the caller: shown once, here
    response = JsonResponse(payload, status=202 if created else 200)
    response["Location"] = payload["links"]["self"]
    return response


def _idempotency_key(request: HttpRequest) -> str | None:
    key = request.headers.get("Idempotency-Key") or None
    if key is not None and len(key) > services.MAX_IDEMPOTENCY_KEY_LENGTH:
        raise invalid(
            f"'Idempotency-Key' may be at most {services.MAX_IDEMPOTENCY_KEY_LENGTH} characters.",
            param="Idempotency-Key",
        )
    return key


def _json_job(body: dict[str, Any]) -> tuple[str, dict[str, Any], None, dict[str, str]]:
    kind = body.get("kind")
    if kind not in (JobKind.IMAGE, JobKind.TEXT, JobKind.SPEECH):
        hint = " Transcription jobs are sent as multipart/form-data." if kind == JobKind.TRANSCRIPTION else ""
        raise invalid(f"'kind' must be one of image, text, speech.{hint}", param="kind")
    params = body.get("request")
    if not isinstance(params, dict):
        raise invalid("'request' must be the JSON body of the synchronous endpoint.", param="request")
    _VALIDATORS[kind](params, prefix="request.")
    validation.storable(params, prefix="request.")
    if params.get("stream"):
        raise invalid("Jobs do not stream: leave 'stream' out and watch the job instead.", param="request.stream")
    return kind, params, None, _webhook(body.get("webhook"))


def _webhook(value: Any, *, names: tuple[str, str] = ("webhook.url", "webhook.secret")) -> dict[str, str]:
    """The job's webhook; ``names`` are the request fields of its URL and secret, named in errors."""
    url_param, secret_param = names
    if value is None:
        return {}
    if not isinstance(value, dict) or not isinstance(value.get("url"), str):
        raise invalid("'webhook' must be an object with a 'url' (and optionally a 'secret').", param="webhook")
    secret = value.get("secret")
    if secret is not None and (not isinstance(secret, str) or not secret_signs(secret)):
        raise invalid(
            f"'{secret_param}' must be a Standard Webhooks secret: whsec_ and the key in base64.", param=secret_param
        )
    webhook_url_validate(value["url"], param=url_param)
    return {"url": value["url"], **({"secret": secret} if secret else {})}


def _multipart_job(request: HttpRequest) -> tuple[str, dict[str, Any], tuple[bytes, str], dict[str, str]]:
    if len(request.body) > MAX_TRANSCRIPTION_BYTES + 64 * 1024:
        raise HttpError(413, "The audio file is larger than 25 MB.", param="file", code="file_too_large")
    content_type = request.META["CONTENT_TYPE"]
    if len(content_type) > services.MAX_INPUT_CONTENT_TYPE_LENGTH:
        # Stored with the upload, which the worker parses again: a longer one could not be kept.
        raise invalid(
            f"The Content-Type may be at most {services.MAX_INPUT_CONTENT_TYPE_LENGTH} characters.",
            code="invalid_content_type",
        )
    try:
        form, files = request.POST, request.FILES
    except MultiPartParserError:
        raise invalid("The multipart body could not be parsed.", param="file", code="invalid_multipart") from None
    validation.single_valued(form, files)
    if form.get("kind") != JobKind.TRANSCRIPTION:
        raise invalid("Multipart jobs must have kind=transcription.", param="kind")
    if files.get("file") is None:
        raise invalid("'file' is required: the audio to transcribe.", param="file", code="missing_field")
    webhook = {}
    if form.get("webhook_url"):
        value = {"url": form["webhook_url"], "secret": form.get("webhook_secret")}
        webhook = _webhook(value, names=("webhook_url", "webhook_secret"))
    params = {"model": form.get("model") or _DEFAULT_MODELS["transcription"]}
    return JobKind.TRANSCRIPTION, params, (request.body, content_type), webhook


async def _authorise(identity: KeyIdentity, kind: str, model: str, upload: tuple[bytes, str] | None) -> None:
    """Refuse at once what the worker would refuse: unknown model, wrong operation, key out of scope."""
    call = ProviderCall(KIND_OPERATION[kind], model, "text", "check")
    routes = await resolve_routes(call)
    authorize(identity, modality=routes[0].model.modality, model=model)


#: No job is older than this: an earlier ``before`` is a caller's mistake, not a query to run.
EARLIEST_BEFORE = datetime(2000, 1, 1, tzinfo=UTC)


def _created_before(value: str | None) -> datetime | None:
    """The ``before`` cursor as an aware UTC time; naive times are UTC, as ``created_at`` is."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None or parsed < EARLIEST_BEFORE:
        raise invalid("'before' must be an ISO 8601 time after 2000 (a job's created_at).", param="before")
    return parsed


async def _job_list(request: HttpRequest) -> HttpResponse:
    identity = await authenticate(request)
    query = request.GET
    status, kind = query.get("status") or None, query.get("kind") or None
    if status and status not in JobStatus.values:
        raise invalid(f"'status' must be one of {', '.join(JobStatus.values)}.", param="status")
    if kind and kind not in JobKind.values:
        raise invalid(f"'kind' must be one of {', '.join(JobKind.values)}.", param="kind")
    before = _created_before(query.get("before"))
    limit = plain_int(query.get("limit", "20"))
    if limit is None or not 1 <= limit <= selectors.MAX_PAGE:
        raise invalid(f"'limit' must be a number from 1 to {selectors.MAX_PAGE}.", param="limit")
    jobs, has_more = await selectors.job_list(
        organization_id=identity.organization_id, status=status, kind=kind, created_before=before, limit=limit
    )
    data = [job_payload(job) for job in jobs]
    next_before = data[-1]["created_at"] if has_more and data else None
    return HttpResponse(
        json.dumps({"object": "list", "data": data, "has_more": has_more, "next_before": next_before}),
        content_type="application/json",
    )
