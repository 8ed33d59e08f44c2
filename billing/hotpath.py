"""Billing on the gateway's hot path: :func:`admit` before the upstream call, :func:`settle` after it.

``admit`` checks every limit that applies (key, user, organisation, provider; requests per minute,
concurrent requests, period quotas) and reserves the request's estimated cost — one Redis round
trip, or none in the embedded setup. ``settle`` is called exactly once however the request ended;
it releases the concurrency slots and the reservation, adds the actual usage to the quotas and the
actual cost to the credits, and appends the ledger event — without a round trip of its own: it
rides with the next admission's (``billing/_stores.py``), so the response never waits for it.

When Redis is unreachable (see docs/billing.md, "When Redis is unreachable"): rate and
concurrency limits fall back to this process's own counters (which also count what Redis admitted
here, so the replicas together never admit more than replicas × limit in a window), period quotas
are not checked, and an organisation whose plan blocks on credits is refused with 503 — credits
fail closed. Broken connections are retried by the Redis client itself (core/redis_clients.py); a
call that still fails drops the pool, and Redis is tried again ``BILLING_REDIS_RETRY_SECONDS`` later.
"""

from __future__ import annotations

import asyncio
import math
import time

import msgspec
import redis
import structlog
from django.conf import settings

from accounts.types import KeyIdentity
from billing import heartbeat, ledger
from billing._answers import headers_of, refusal_of
from billing._stores import AdmitResult, LocalStore, RedisStore, Settlement
from billing.metrics import ADMISSIONS, DEGRADED, REDIS_DEGRADED, REFUSALS, SETTLE_FAILURES, observe_credits_spent
from billing.policy import org_policy, prices_for, rules_for
from billing.policy import reset as policy_reset
from billing.pricing import cost_of, estimate_usage
from billing.selectors import credit_cap_get
from billing.types import Admission, Rule
from core.errors import HttpError, not_permitted
from core.ids import fresh_id
from plugins.types import Caller, Outcome, Provider, ProviderCall, Usage

log = structlog.get_logger("mcp.billing")

_local = LocalStore()
_redis: RedisStore | None = None
#: After a failed Redis call: when to try Redis again (monotonic clock).
_redis_retry_at = 0.0
#: A settlement that could not reach Redis is tried again after each of these pauses (seconds).
SETTLE_RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0, 4.0)
_background: set[asyncio.Task] = set()


def redis_store() -> RedisStore | None:
    global _redis
    url = settings.CONFIG.redis_url
    if not url:
        return None
    if _redis is None or _redis.url != url:
        _redis = RedisStore(url)
    return _redis


def redis_degraded() -> bool:
    """Whether billing is running without Redis right now (it failed within the retry interval)."""
    return time.monotonic() < _redis_retry_at


REDIS_DEGRADED.set_function(lambda: float(redis_degraded()))


def local_store() -> LocalStore:
    return _local


def reset() -> None:
    """Forget process state: stores, cached policies, queued ledger events (tests)."""
    global _local, _redis, _redis_retry_at
    _local, _redis, _redis_retry_at = LocalStore(), None, 0.0
    policy_reset()
    ledger.reset()


async def admit(
    *,
    call: ProviderCall,
    identity: KeyIdentity,
    provider: Provider | None,
    ledger_id: str | None = None,
    charge_id: str = "",
) -> Admission:
    """Let the request in, holding a slot of every limit and its estimated cost, or refuse it.

    :param ledger_id: the id its slots, reservation and ledger event go by (default: a fresh one).
    :param charge_id: what the work is charged under if it completes, when not ``ledger_id`` (a job
        attempt: ``job-<id>``); the reconciler settles the hold of a dead attempt against it.
    :raises HttpError: 429 over a limit, 402 out of credits, 503 when credits cannot be checked.
    """
    policy = await org_policy(identity.organization_id)
    if policy.status == "cancelled":
        REFUSALS.labels("subscription").inc()
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
        ledger_id=ledger_id or fresh_id(),
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
    result = await _admit_in_store(admission)
    if not result.ok:
        REFUSALS.labels(result.kind).inc()
        raise refusal_of(admission, result)
    admission.headers = headers_of(admission.rules, result)
    call.admission = admission
    ADMISSIONS.labels(admission.store).inc()
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
                _local.count(admission)
            return result
        except (redis.RedisError, OSError) as exc:
            # The client already retried on fresh connections: Redis is down. Keep no connection to it.
            _redis_retry_at = time.monotonic() + settings.BILLING_REDIS_RETRY_SECONDS
            await store.drop()
            log.error("billing.redis_unavailable", error=str(exc)[:200])
    if store is not None:
        # Degraded: requests/minute and concurrency per process, no period quotas, credits fail closed.
        if admission.credit_enforced:
            REFUSALS.labels("unavailable").inc()
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
    result = await _local.admit(admission)
    if result.kind == "init":
        await _local.load_credits(admission.organization_id, await credit_cap_get(admission.organization_id))
        result = await _local.admit(admission)
    return result


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


def event_of(admission: Admission, call: ProviderCall, caller: Caller, outcome: Outcome, cost: int) -> dict:
    usage = outcome.usage
    return {
        "request_id": admission.event_id or admission.ledger_id,
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


def settle(*, call: ProviderCall, caller: Caller, outcome: Outcome) -> None:
    """Release what the request held, bill what it consumed, append its ledger event; never blocks.

    Idempotent per admission: only the first call does anything. Cache hits cost nothing (the
    upstream was not called); failed requests cost what the upstream reported, usually nothing.
    """
    admission: Admission | None = getattr(call, "admission", None)
    if admission is None or admission.settled:
        return
    admission.settled = True
    usage = None if outcome.cache_hit else outcome.usage
    cost = cost_of(admission.prices, call, usage)
    units = [_units(r, usage, cost) for r in admission.rules if r.kind == "quota"]
    event = event_of(admission, call, caller, outcome, cost)
    observe_credits_spent(caller.organization_id, cost)
    store = redis_store()
    if admission.store != "redis" or store is None:
        _spawn(_settle_locally(admission, units, cost, event))
        return
    # No round trip of its own: it rides with the next admission (billing/_stores.py).
    payload = msgspec.json.encode(event).decode()
    store.defer_settle(Settlement(admission, units, cost, payload), lambda s: _spawn(_retry_settle(s, event)))
    ledger.ensure_flusher()


async def _settle_locally(admission: Admission, units: list[int], cost: int, event: dict) -> None:
    await _local.settle(admission, units, cost, "")
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


def _spawn(coroutine) -> None:
    task = asyncio.get_running_loop().create_task(coroutine)
    _background.add(task)
    task.add_done_callback(_background.discard)


def abandon(call: ProviderCall, *, status: int = 500) -> None:
    """Settle a request that ended before it reached the usage recorder (an unexpected error, a disconnect)."""
    admission: Admission | None = getattr(call, "admission", None)
    if admission is not None and not admission.settled:
        caller = Caller(admission.organization_id, admission.key_id, admission.user_id)
        settle(call=call, caller=caller, outcome=Outcome(admission.provider, status, None))


async def admit_done(*, call: ProviderCall, caller: Caller, provider: Provider | None, ledger_id: str) -> Admission:
    """Admit work that was already done without an admission of its own (a job a provider finished by
    callback), so that ``usage.record`` bills it like any other request.

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
    call.admission = admission
    return admission


async def drain() -> None:
    """Send and wait for the settlements this event loop has scheduled (tests; graceful shutdown)."""
    loop = asyncio.get_running_loop()
    while True:
        if _redis is not None:
            await _redis.drain()
        # A task of another loop (one that ended while a settlement was being retried) is not ours
        # to wait for: what it held is reconciled from the holds.
        mine = [task for task in _background if task.get_loop() is loop]
        if not mine:
            return
        await asyncio.gather(*mine, return_exceptions=True)


async def settle_pending() -> None:
    """Finish this event loop's settlements and write the events it queued, before the loop ends
    (a worker runs each job on a loop of its own)."""
    await drain()
    await ledger.flush_buffer()
    ledger.flusher_stop()


async def shutdown() -> None:
    """On a graceful stop: finish the settlements in flight and write the events queued in this process."""
    try:
        await asyncio.wait_for(drain(), timeout=10)
        await asyncio.wait_for(ledger.flush_buffer(), timeout=10)
    except Exception as exc:  # noqa: BLE001 - what is left is reconciled from the holds.
        log.error("billing.shutdown_incomplete", error_type=type(exc).__name__)
