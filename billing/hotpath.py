"""Billing on the gateway's hot path: :func:`metered` owns a request's billing from admission to settlement.

``async with metered(...) as meter`` admits on entry and settles on exit, exactly once, whatever
ends the block (an answer, an error, a cancelled task, a closed stream). Admission checks every
limit that applies (key, user, organisation, provider; requests per minute, concurrent requests,
period quotas) and reserves the request's estimated cost — one Redis round trip, or none in the
embedded setup. Settlement releases the concurrency slots and the reservation, adds the actual
usage to the quotas and the actual cost to the credits, and appends the ledger event — without a
round trip of its own: it rides with the next admission's (``billing/_stores.py``), so the
response never waits for it.

When Redis is unreachable (see docs/billing.md, "When Redis is unreachable"): rate and
concurrency limits fall back to this process's own counters (which also count what Redis admitted
here, so the replicas together never admit more than replicas × limit in a window), period quotas
are not checked, and an organisation whose plan blocks on credits is refused with 503 — credits
fail closed. Broken connections are retried by the Redis client itself (core/redis_clients.py); a
call that still fails drops the pool, and Redis is tried again ``BILLING_REDIS_RETRY_SECONDS`` later.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import redis
import structlog
from django.conf import settings

from accounts.types import KeyIdentity
from billing import heartbeat, ledger
from billing._answers import headers_of, refusal_of
from billing._stores import (
    AdmitResult,
    Settlement,
    current_redis_store,
    local_store,
    redis_store,
    reset_stores,
    split_rules,
)
from billing.metrics import DEGRADED, REDIS_DEGRADED, SETTLE_FAILURES, admissions, observe_credits_spent, refusals
from billing.policy import MISSING_PLAN_STATUS, org_policy, prices_for, rules_for
from billing.policy import reset as policy_reset
from billing.pricing import cost_of, estimate_usage
from billing.selectors import credit_cap_get
from billing.types import Admission, Rule
from core import background, tracing
from core.diagnostics import milliseconds_since, observe_phase
from core.errors import STATUS_CLIENT_CLOSED, ApplicationError, HttpError, not_permitted
from core.ids import ledger_id as fresh_ledger_id
from plugins.types import Caller, Outcome, Provider, ProviderCall, Usage

log = structlog.get_logger("mcp.billing")

#: After a failed Redis call: when to try Redis again (monotonic clock).
_redis_retry_at = 0.0
#: A settlement that could not reach Redis is tried again after each of these pauses (seconds).
SETTLE_RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0, 4.0)
#: How long a key's admission that left room in every limit lets the next ones overlap their
#: upstream call with the admission's round trip (see :func:`admit`'s ``overlap``), in seconds.
ROOMY_SECONDS = 1.0
#: Room that counts as ample: this share of every limit left, and at least this many requests;
#: credits for this many more requests of the same estimate.
ROOMY_SHARE = 4
ROOMY_REQUESTS = 4
ROOMY_CREDIT_REQUESTS = 100
#: Keys (by id) whose last admission left ample room, until when (monotonic clock).
_roomy_until: dict[int, float] = {}


def redis_degraded() -> bool:
    """Whether billing is running without Redis right now (it failed within the retry interval)."""
    return time.monotonic() < _redis_retry_at


REDIS_DEGRADED.set_function(lambda: float(redis_degraded()))


def reset() -> None:
    """Forget process state: stores, cached policies, queued ledger events (tests)."""
    global _redis_retry_at
    _redis_retry_at = 0.0
    _roomy_until.clear()
    reset_stores()
    policy_reset()
    ledger.reset()


async def admit(
    *,
    call: ProviderCall,
    identity: KeyIdentity,
    provider: Provider | None,
    ledger_id: str | None = None,
    charge_id: str = "",
    overlap: Callable[[], object] | None = None,
) -> Admission:
    """Let the request in, holding a slot of every limit and its estimated cost, or refuse it.

    :param ledger_id: the id its slots, reservation and ledger event go by (default: a fresh one).
    :param charge_id: what the work is charged under if it completes, when not ``ledger_id`` (a job
        attempt: ``job-<id>``); the reconciler settles the hold of a dead attempt against it.
    :param overlap: work to start alongside the admission's round trip (the upstream call), called
        after every check this process can make alone, and only when the key's admission within
        the last :data:`ROOMY_SECONDS` left ample room in every limit and in the credits (so a
        refusal then is rare, and its caller undoes the work); otherwise not called.
    :raises HttpError: 429 over a limit, 402 out of credits, 503 when credits cannot be checked.
    """
    policy = await org_policy(identity.organization_id)
    if policy.status == MISSING_PLAN_STATUS:
        refusals("subscription").inc()
        raise HttpError(
            503,
            "No plan applies to this organisation: the gateway's default plan is not configured correctly.",
            type="server_error",
            code="plan_unavailable",
        )
    if policy.status == "cancelled":
        refusals("subscription").inc()
        raise HttpError(
            402,
            "This organisation's subscription is cancelled: renew it to use the gateway.",
            type="insufficient_quota",
            code="subscription_inactive",
        )
    if policy.allowed_models and call.model not in policy.allowed_models:
        raise not_permitted(f"Model {call.model!r} is not included in the {policy.plan!r} plan.", param="model")
    name = provider.name if provider is not None else ""
    prices = await prices_for(provider, call.model)
    estimate = cost_of(prices, call, estimate_usage(call, settings.BILLING_DEFAULT_MAX_TOKENS))
    admission = Admission(
        ledger_id=ledger_id or fresh_ledger_id(),
        organization_id=identity.organization_id,
        key_id=identity.key_id,
        user_id=identity.user_id,
        rules=tuple(await rules_for(identity, policy, name, call.modality)),
        # Reserved only where credits are enforced, recorded either way for the reconciler (hold_record).
        estimate=estimate,
        credit_enforced=policy.credit_enforced,
        provider=name,
        prices=prices,
        charge_id=charge_id,
        process_id=heartbeat.process_id(),
        client_request_id=call.request_id[:128],
        model=call.model[:200],
        operation=call.operation,
        modality=call.modality,
    )
    if overlap is not None and _roomy_until.get(identity.key_id, 0.0) > time.monotonic():
        overlap()
    result = await _admit_in_store(admission)
    if not result.ok:
        admission_refused(identity.key_id)
        refusals(result.kind).inc()
        raise refusal_of(admission, result)
    if admission.store == "redis" and _roomy(admission, result):
        if len(_roomy_until) >= 100_000:
            _roomy_until.clear()  # bounded: a key forgotten here only waits for its next admission
        _roomy_until[identity.key_id] = time.monotonic() + ROOMY_SECONDS
    else:
        _roomy_until.pop(identity.key_id, None)
    admission.headers = headers_of(admission.rules, result)
    admissions(admission.store).inc()
    return admission


async def _admit_in_store(admission: Admission) -> AdmitResult:
    global _redis_retry_at
    store = redis_store()
    if store is not None and time.monotonic() >= _redis_retry_at:
        heartbeat.ensure()
        try:
            result = await store.admit(admission)
            if result.kind == "init":
                await store.load_credits(admission.organization_id, await credit_cap_get(admission.organization_id))
                result = await store.admit(admission)
            if result.ok:
                local_store().count(admission)
            return result
        except (redis.RedisError, OSError) as exc:
            # The client already retried on fresh connections: Redis is down. Keep no connection to it.
            _redis_retry_at = time.monotonic() + settings.BILLING_REDIS_RETRY_SECONDS
            await store.drop()
            log.error("billing.redis_unavailable", error=str(exc)[:200])
    if store is not None:
        # Degraded: requests/minute and concurrency per process, no period quotas, credits fail closed.
        if admission.credit_enforced:
            refusals("unavailable").inc()
            raise HttpError(
                503,
                "Credits cannot be checked right now. Retry in a few seconds.",
                type="service_unavailable",
                code="billing_unavailable",
                headers={"Retry-After": str(math.ceil(settings.BILLING_REDIS_RETRY_SECONDS))},
            )
        admission.rules = tuple(r for r in admission.rules if r.kind != "quota")
        DEGRADED.inc()
    admission.store = "local"
    local = local_store()
    result = await local.admit(admission)
    if result.kind == "init":
        await local.load_credits(admission.organization_id, await credit_cap_get(admission.organization_id))
        result = await local.admit(admission)
    return result


def admission_refused(key_id: int) -> None:
    """A key was refused: its next admissions overlap nothing until one leaves ample room again."""
    _roomy_until.pop(key_id, None)


def _roomy(admission: Admission, result: AdmitResult) -> bool:
    """Whether the admission left ample room in every limit it checked and in the credits."""
    rate, conc, quota = split_rules(admission.rules)
    for rules, remaining in ((rate, [left for left, _ in result.rate]), (conc, result.conc), (quota, result.quota)):
        for rule, left in zip(rules, remaining, strict=False):
            if left < max(ROOMY_REQUESTS, rule.limit // ROOMY_SHARE):
                return False
    if admission.credit_enforced:
        return result.credits >= ROOMY_CREDIT_REQUESTS * max(1, admission.estimate)
    return True


def _units(rule: Rule, usage: Usage | None, cost: int) -> int:
    if usage is None:
        return 0
    return {
        "tokens": usage.input_tokens + usage.output_tokens,
        "images": usage.images,
        "audio_ms": int(usage.audio_seconds * 1000),
        "cost": cost,
        "requests": 1,
    }[rule.unit]


def event_of(
    admission: Admission, call: ProviderCall, caller: Caller, outcome: Outcome, cost: int, request_id: str
) -> dict:
    usage = outcome.usage
    return {
        "request_id": request_id,
        "client_request_id": call.request_id[:128],
        "created_at": time.time(),
        "organization_id": caller.organization_id,
        "key_id": caller.key_id,
        "user_id": caller.user_id,
        "provider": outcome.provider or admission.provider,
        "model": call.model[:200],
        "operation": call.operation,
        "modality": call.modality,
        "input_tokens": usage.input_tokens if usage else 0,
        "output_tokens": usage.output_tokens if usage else 0,
        "images": usage.images if usage else 0,
        "audio_seconds": usage.audio_seconds if usage else 0.0,
        "characters": usage.characters if usage else 0,
        "usage_source": usage.source if usage else "none",
        "cost": cost,
        "status": outcome.status,
        "latency_ms": int(outcome.latency_ms),
        "cache_hit": outcome.cache_hit,
    }


#: Reports a request's final outcome (the gateway's metrics and ``mcp_response`` hooks).
Reporter = Callable[..., None]


@dataclass(slots=True)
class Meter:
    """One request's billing between admission and settlement; see :func:`metered`."""

    admission: Admission
    started: float
    #: What the request delivered, billed at settlement; ``None`` until the one who knows says.
    outcome: Outcome | None = None
    #: Bill the outcome under the admission's ``charge_id`` (the work is done and is charged as such).
    charged: bool = False
    #: Hand the outcome to the reporter at settlement.
    report: bool = True

    @property
    def headers(self) -> dict[str, str]:
        """The limit headers of the admission (``x-ratelimit-*``), for the answer."""
        return self.admission.headers

    def charge(self, outcome: Outcome) -> None:
        """What the request delivered, to be billed when the block ends."""
        self.outcome, self.charged = outcome, True

    def release(self, status: int) -> None:
        """Bill nothing and report nothing: what the hold was for is billed elsewhere (a job already charged)."""
        self.outcome, self.charged, self.report = Outcome("", status, None), False, False


@contextlib.asynccontextmanager
async def metered(
    *,
    call: ProviderCall,
    identity: KeyIdentity,
    provider: Provider | None,
    started: float | None = None,
    ledger_id: str | None = None,
    charge_id: str = "",
    reporter: Reporter | None = None,
    report_abandoned: bool = True,
    overlap: Callable[[], object] | None = None,
) -> AsyncIterator[Meter]:
    """Admit the request on entry; on exit settle it, exactly once, and report its outcome.

    The block says what the request delivered with :meth:`Meter.charge`. A block that ends without
    an outcome — an error, a cancelled task, a closed stream — is settled as abandoned: nothing is
    charged, the slots and the reservation are released, and the status says why (the error's, 499
    for a client that left, 500 otherwise).

    :param started: when the request began (``time.perf_counter()``), for the latency of an abandonment.
    :param ledger_id: the id its slots, reservation and ledger event go by (default: a fresh one).
    :param charge_id: what the work is charged under when it completes, if not ``ledger_id`` (a job
        attempt: ``job-<id>``); the reconciler settles the hold of a dead attempt against it.
    :param reporter: called once at the end as ``reporter(call=, caller=, outcome=)``.
    :param report_abandoned: whether an abandoned block is reported too (a job's failed attempt,
        retried, is not: a job is reported once, when it succeeds).
    :param overlap: see :func:`admit`.
    :raises HttpError: on entry, a refusal: 429 over a limit, 402 out of credits, 503 when credits
        cannot be checked; nothing is held then.
    """
    admission = await admit(
        call=call, identity=identity, provider=provider, ledger_id=ledger_id, charge_id=charge_id, overlap=overlap
    )
    meter = Meter(admission, time.perf_counter() if started is None else started)
    try:
        yield meter
    except BaseException as exc:
        if meter.outcome is None:
            meter.outcome = Outcome("", _abandoned_status(exc), None, latency_ms=milliseconds_since(meter.started))
            meter.report = report_abandoned
        raise
    finally:
        if meter.outcome is None:  # the block returned without saying what it delivered: a bug, billed as nothing
            meter.outcome = Outcome("", 500, None, latency_ms=milliseconds_since(meter.started))
            meter.report = report_abandoned
        caller = Caller(admission.organization_id, admission.key_id, admission.user_id)
        _settle_and_report(meter, call, caller, reporter)


def _abandoned_status(exc: BaseException) -> int:
    if isinstance(exc, ApplicationError):
        return exc.status
    if isinstance(exc, asyncio.CancelledError | GeneratorExit):
        return STATUS_CLIENT_CLOSED
    return 500


def _settle_and_report(meter: Meter, call: ProviderCall, caller: Caller, reporter: Reporter | None) -> None:
    outcome = meter.outcome
    assert outcome is not None
    settling = time.perf_counter()
    request_id = meter.admission.charge_id if meter.charged and meter.admission.charge_id else ""
    try:
        # The settlement's Redis round trip rides with a later admission, inside this span's context.
        with tracing.span("mcp.settlement", {"http.response.status_code": outcome.status}):
            settle(meter.admission, call=call, caller=caller, outcome=outcome, request_id=request_id)
    except Exception as exc:  # noqa: BLE001 - the hold is reconciled later; the answer stands.
        log.error("billing_settle_failed", error_type=type(exc).__name__)
    if reporter is not None and meter.report:
        reporter(call=call, caller=caller, outcome=outcome)
    observe_phase("settlement", time.perf_counter() - settling)


def settle(admission: Admission, *, call: ProviderCall, caller: Caller, outcome: Outcome, request_id: str = "") -> None:
    """Release what the request held, bill what it consumed, append its ledger event; never blocks.

    Called once per admission, by :func:`metered`'s exit. Cache hits cost nothing (the upstream was
    not called); failed requests cost what the upstream reported, usually nothing.

    :param request_id: the ledger event's id, when not the admission's ``ledger_id``.
    """
    usage = None if outcome.cache_hit else outcome.usage
    cost = cost_of(admission.prices, call, usage)
    units = [_units(r, usage, cost) for r in admission.rules if r.kind == "quota"]
    event = event_of(admission, call, caller, outcome, cost, request_id or admission.ledger_id)
    observe_credits_spent(caller.organization_id, cost)
    store = redis_store()
    if admission.store != "redis" or store is None:
        background.spawn(_settle_locally(admission, units, cost, event))
        return
    # No round trip of its own: it rides with the next admission (billing/_stores.py).
    payload = msgspec.json.encode(event).decode()
    store.defer_settle(Settlement(admission, units, cost, payload), functools.partial(_settle_failed, event=event))
    ledger.ensure_flusher()


def _settle_failed(settlement: Settlement, *, event: dict[str, Any]) -> None:
    background.spawn(_retry_settle(settlement, event))


async def _settle_locally(admission: Admission, units: list[int], cost: int, event: dict) -> None:
    await local_store().settle(admission, units, cost, "")
    ledger.append_local(event)


async def _retry_settle(settlement: Settlement, event: dict) -> None:
    """A settlement Redis did not apply: its event goes to the ledger through this process now, and
    the settlement is tried again (appending the event again: the ledger ignores the duplicate id)."""
    admission = settlement.admission
    SETTLE_FAILURES.inc()
    log.error("billing.settle_failed", request_id=admission.ledger_id)
    ledger.append_local(event)
    store = redis_store()
    if store is None:
        return
    await store.drop()
    for delay in SETTLE_RETRY_DELAYS:
        await asyncio.sleep(delay)
        try:
            await store.settle(admission, settlement.units, settlement.cost, settlement.event)
            return
        except (redis.RedisError, OSError):
            await store.drop()
    # Still held in Redis: the reconciler settles it from the ledger.
    log.error("billing.settle_abandoned", request_id=admission.ledger_id)


async def bill_done(
    *, call: ProviderCall, caller: Caller, provider: Provider | None, ledger_id: str, outcome: Outcome
) -> None:
    """Bill work that was done without an admission of its own (a job a provider finished by callback).

    No limit applies (the work is done); its cost goes to the credits even past the balance, and
    its ledger event is ``ledger_id`` — idempotent, so a repeated report is not billed twice.
    """
    policy = await org_policy(caller.organization_id)
    admission = Admission(
        ledger_id=ledger_id,
        organization_id=caller.organization_id,
        key_id=caller.key_id,
        user_id=caller.user_id,
        rules=(),
        estimate=0,
        credit_enforced=policy.credit_enforced,
        provider=provider.name if provider is not None else "",
        prices=await prices_for(provider, call.model),
        process_id=heartbeat.process_id(),
        client_request_id=call.request_id[:128],
        model=call.model[:200],
        operation=call.operation,
        modality=call.modality,
    )
    if not (await _admit_in_store(admission)).ok:
        # Out of credits: hold nothing, then bill the cost anyway at settlement.
        admission.credit_enforced = False
        await _admit_in_store(admission)
        admission.credit_enforced = policy.credit_enforced
    settle(admission, call=call, caller=caller, outcome=outcome)


async def drain() -> None:
    """Send and wait for the settlements this event loop has scheduled (tests; graceful shutdown)."""
    while True:
        store = current_redis_store()
        if store is not None:
            await store.drain()
        # Settlement retries and local settlements run as background tasks; they may queue more.
        if not background.pending():
            return
        await background.drain()


async def settle_pending() -> None:
    """Finish this event loop's settlements and write the events it queued, before the loop ends
    (a worker runs each job on a loop of its own)."""
    await drain()
    await ledger.flush_buffer()
    ledger.flusher_stop()
    if (store := current_redis_store()) is not None:
        store.release_loop()


async def shutdown() -> None:
    """On a graceful stop: finish the settlements in flight and write the events queued in this process."""
    try:
        await asyncio.wait_for(drain(), timeout=10)
        await asyncio.wait_for(ledger.flush_buffer(), timeout=10)
    except Exception as exc:  # noqa: BLE001 - what is left is reconciled from the holds.
        log.error("billing.shutdown_incomplete", error_type=type(exc).__name__)
