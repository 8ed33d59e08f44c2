"""Executing one attempt of a job in the worker, through the gateway's own pipeline pieces.

The call is built like the synchronous ``/v1`` views build it, then routed, authorised, shown to
the ``mcp_request`` hooks and opened with the gateway's retries, breakers and fallback. The
answer is read (bounded) into storage, and usage is reported once per job with the request id
``job-<id>`` — stable across attempts, so the ledger stays idempotent even if a report repeats.
The attempt passes the gateway's own pipeline (``gateway.pipeline.prepared``): limits and credits
as for a synchronous call; a rate limit puts it back in the queue without spending an attempt,
and whatever ends an admitted attempt other than success releases its admission.

While the attempt runs, a heartbeat keeps its lease; when the heartbeat finds the job cancelled
or handed to another attempt, the work is cancelled (which closes the upstream request).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time

import structlog
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files.storage import default_storage

from billing import hotpath as billing
from core import tracing
from core.errors import STATUS_CLIENT_CLOSED, HttpError
from core.numbers import plain_int
from gateway.dispatch import open_upstream
from gateway.errors import from_upstream
from gateway.pipeline import prepared
from gateway.relay import usage_of
from jobs import services
from jobs.identity import job_identity
from jobs.metrics import observe_attempt_end, observe_attempt_start
from jobs.models import Job
from jobs.results import result_downloadable, result_name, store_bytes
from jobs.types import KIND_OPERATION
from plugins.errors import UpstreamError
from plugins.registry import Route, close_loop_sessions
from plugins.types import Modality, Outcome, ProviderCall, Usage

log = structlog.get_logger("mcp.jobs")

#: Largest result kept (images and audio are far smaller; a runaway upstream is cut off).
MAX_RESULT_BYTES = 64 * 1024 * 1024


class _Lost(Exception):
    """This attempt no longer owns the job (cancelled, or handed to another attempt)."""


class _RateLimited(Exception):
    """A limit refused the attempt for now: it waits ``Retry-After`` and runs again, attempt unspent."""

    def __init__(self, refusal: HttpError) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal
        self.delay_seconds = _retry_after(refusal) or 1.0


_MODALITIES: dict[str, Modality] = {"chat": "text", "image": "image"}


def _call_for(job: Job, body: bytes | None) -> ProviderCall:
    operation = KIND_OPERATION[job.kind]
    if body is not None:
        return ProviderCall(
            operation, job.model, "audio", job.request_id, body=body, content_type=job.input_content_type
        )
    return ProviderCall(
        operation, job.model, _MODALITIES.get(operation, "audio"), job.request_id, payload=dict(job.params)
    )


async def _read_input(job: Job) -> bytes | None:
    if not job.input_name:
        return None

    def read() -> bytes:
        with default_storage.open(job.input_name, "rb") as handle:
            return handle.read()

    return await sync_to_async(read)()


async def _run(job: Job) -> None:
    started = time.perf_counter()
    identity = await job_identity(job)
    call = _call_for(job, await _read_input(job))
    call.forward_headers = dict(job.forward_headers)
    async with contextlib.AsyncExitStack() as stack:
        # The gateway's own pipeline: routes, scopes, request hooks, limits and credits. Each attempt
        # holds under an id of its own (a reaped attempt may still be running); a success is billed
        # under the job's stable request id, which the hold records, so the hold of an attempt whose
        # worker died is settled against it.
        try:
            exchange = await stack.enter_async_context(
                prepared(
                    call,
                    identity,
                    started=started,
                    ledger_id=f"{job.request_id}-{job.attempt}",
                    charge_id=job.request_id,
                    # A job is reported once, when it succeeds; a refused or failed attempt is retried.
                    report_failures=False,
                )
            )
        except HttpError as exc:
            if exc.status == 429:
                raise _RateLimited(exc) from None
            raise
        await _run_admitted(job, call, exchange.routes, exchange.meter, started)


async def _run_admitted(
    job: Job, call: ProviderCall, routes: list[Route], meter: billing.Meter, started: float
) -> None:
    await services.job_progress(job=job, progress=10)
    provider, upstream = await open_upstream(call, routes)
    await services.job_progress(job=job, progress=30)
    declared = int({k.lower(): v for k, v in upstream.headers}.get("content-length", "0") or 0)
    parts, size, reported = [], 0, 30
    try:
        async for chunk in upstream.body:
            size += len(chunk)
            if size > MAX_RESULT_BYTES:
                raise HttpError(502, "The upstream answer is too large.", type="upstream_error", code="upstream_error")
            parts.append(chunk)
            step = 30 + int(60 * size / declared) if declared else reported
            if step >= reported + 20:  # a few steps, not one event per chunk
                reported = step
                await services.job_progress(job=job, progress=min(step, 90))
    except UpstreamError as exc:
        raise from_upstream(exc) from None
    finally:
        await upstream.close()
    if upstream.status >= 400:
        raise HttpError(
            upstream.status,
            "The upstream provider refused the job.",
            code="upstream_rejected",
            type="upstream_error" if upstream.status >= 500 else "invalid_request_error",
        )
    body = b"".join(parts)
    usage = usage_of(provider, call, upstream, body[-8192:], 0)
    result, content_type = result_downloadable(kind=job.kind, body=body, content_type=upstream.content_type)
    name = result_name(organization_id=job.organization_id, job_id=job.id.hex, content_type=content_type)
    stored = await sync_to_async(store_bytes)(name, result)
    finished, charge = await sync_to_async(services.job_succeed)(
        job_id=str(job.id),
        attempt=job.attempt,
        result=stored,
        content_type=content_type,
        size=len(result),
        usage=_usage_dict(usage),
        provider=provider.name,
    )
    if finished is None:
        meter.release(STATUS_CLIENT_CLOSED)  # another attempt owns the job now
        raise _Lost
    if not charge:
        meter.release(upstream.status)  # billed once already: release, charge nothing
        return
    meter.charge(Outcome(provider.name, upstream.status, usage, latency_ms=(time.perf_counter() - started) * 1000))


def _usage_dict(usage: Usage | None) -> dict | None:
    return None if usage is None else dataclasses.asdict(usage)


async def _heartbeat(job: Job, work: asyncio.Task) -> None:
    interval = max(0.2, min(2.0, settings.JOBS_LEASE_SECONDS / 4))
    while not work.done():
        await asyncio.sleep(interval)
        if not await services.job_heartbeat(job=job):
            work.cancel()
            return


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, HttpError):
        return exc.status >= 500 or exc.status in (408, 429)
    return True  # unexpected failures (network, storage) are worth another attempt


def _retry_after(exc: BaseException) -> float:
    """The seconds a failure asked to wait (an open circuit, an upstream's 429 or 503), else 0."""
    if isinstance(exc, HttpError):
        return float(plain_int(exc.headers.get("Retry-After", "")) or 0)
    return 0.0


async def job_execute(*, job_id: str, attempt: int, worker_id: str) -> str:
    """Run ``attempt`` of a job to its end; returns what happened (for the task's return value)."""
    job = await sync_to_async(services.job_start)(job_id=job_id, attempt=attempt, worker_id=worker_id)
    if job is None:
        return "skipped"
    observe_attempt_start(
        kind=job.kind,
        due=max(job.created_at, job.run_after or job.created_at),
        started=job.started_at or job.created_at,
    )
    begun, result = time.perf_counter(), "crashed"
    # The attempt joins the trace of the request that submitted the job (its traceparent was kept).
    with (
        tracing.carrier_context(job.forward_headers),
        tracing.span("mcp.job.run", kind=tracing.SpanKind.CONSUMER) as span,
    ):
        try:
            result = await _execute(job, job_id, attempt)
            return result
        finally:
            observe_attempt_end(kind=job.kind, result=result, seconds=time.perf_counter() - begun)
            if span is not None:
                span.set_attributes(
                    {
                        "mcp.job.id": job_id,
                        "mcp.job.kind": job.kind,
                        "mcp.job.attempt": attempt,
                        "mcp.job.result": result,
                    }
                )


async def _execute(job: Job, job_id: str, attempt: int) -> str:
    work = asyncio.ensure_future(_run(job))
    beat = asyncio.ensure_future(_heartbeat(job, work))
    try:
        await work
        return "succeeded"
    except (asyncio.CancelledError, _Lost):
        log.info("job_attempt_abandoned", job=job_id, attempt=attempt)
        return "abandoned"
    except _RateLimited as exc:
        await sync_to_async(services.job_defer)(
            job_id=job_id, attempt=attempt, delay_seconds=exc.delay_seconds, error=_error_of(exc.refusal)
        )
        return "deferred"
    except Exception as exc:  # noqa: BLE001 - every failure ends the attempt with a recorded error.
        error = _error_of(exc)
        if not isinstance(exc, HttpError):
            log.error("job_attempt_crashed", job=job_id, error_type=type(exc).__name__)
        await sync_to_async(services.job_fail_or_retry)(
            job_id=job_id, attempt=attempt, error=error, retryable=_retryable(exc), wait_at_least=_retry_after(exc)
        )
        return "failed"
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
        # The task's event loop ends with the task: settle and write the ledger events before it does.
        try:
            await billing.settle_pending()
        except Exception as exc:  # noqa: BLE001 - unwritten events stay queued for the next job's flush.
            log.error("job_settlement_incomplete", job=job_id, error_type=type(exc).__name__)
        # Upstream sessions are bound to this event loop, which ends with the task: close them with it.
        await close_loop_sessions()


def _error_of(exc: BaseException) -> dict:
    return {
        "message": getattr(exc, "message", "The job failed."),
        "code": getattr(exc, "code", None) or "job_failed",
        "type": getattr(exc, "type", "server_error"),
    }
