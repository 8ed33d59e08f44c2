"""What applies to a request: the organisation's plan, per-key overrides, provider limits, prices.

Read on the hot path, so cached in the process for :data:`settings.BILLING_POLICY_TTL_SECONDS`. An
expired entry is served while one background query refreshes it, so a request waits for the
database only for an organisation (or table) the process has not seen yet; an admin edit reaches
every replica within that TTL plus one query.
While the database is unreachable, an expired entry is served as it was (and the database tried
again :data:`STALE_RETRY_SECONDS` later), so known callers keep flowing through a restart.
"""

from __future__ import annotations

import asyncio
import calendar
import datetime as dt
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from asgiref.sync import sync_to_async
from cachetools import LRUCache
from django.conf import settings
from django.db import DatabaseError, close_old_connections

from accounts.types import KeyIdentity
from billing.models import Plan, Price, ProviderLimit, Subscription
from billing.pricing import FREE, UnitPrices
from billing.types import Rule
from plugins.types import Provider

log = structlog.get_logger("mcp.billing")

QUOTA_FAMILIES = {"text": ("tokens", "tokens"), "image": ("images", "images"), "audio": ("audio-seconds", "audio_ms")}


@dataclass(frozen=True, slots=True)
class OrgPolicy:
    plan: str | None = None
    status: str | None = None
    requests_per_minute: int | None = None
    user_requests_per_minute: int | None = None
    concurrent: int | None = None
    #: modality → limit in the unit of :data:`QUOTA_FAMILIES` (audio in milliseconds)
    quotas: dict[str, int] = field(default_factory=dict)
    period_start: float = 0.0
    period_end: float = 0.0
    allowed_models: frozenset[str] = frozenset()
    credit_enforced: bool = False


NO_PLAN = OrgPolicy()
#: The status of :data:`MISSING_DEFAULT_PLAN`.
MISSING_PLAN_STATUS = "default_plan_missing"
STALE_RETRY_SECONDS = 1.0
#: Organisations whose policy this process keeps; past it, the least recently used is forgotten (and
#: read again at its next request). Bounded by size, not by age: an expired entry is still served
#: while it is refreshed or the database is down, so freshness is the entry's own deadline.
MAX_CACHED_ORGANIZATIONS = 10_000
_orgs: LRUCache[int, tuple[float, OrgPolicy]] = LRUCache(maxsize=MAX_CACHED_ORGANIZATIONS)
_shared: dict[str, tuple[float, Any]] = {}


def reset() -> None:
    """Forget every cached policy (tests; admin edits in this process)."""
    _orgs.clear()
    _shared.clear()
    _refreshing.clear()


def _ttl() -> float:
    return settings.BILLING_POLICY_TTL_SECONDS


def policy_from_subscription(subscription: Subscription | None) -> OrgPolicy:
    if subscription is None:
        return NO_PLAN
    start, end = subscription.current_period_start.timestamp(), subscription.current_period_end.timestamp()
    return policy_from_plan(subscription.plan, status=subscription.status, period=(start, end))


def policy_from_plan(plan: Plan, *, status: str | None, period: tuple[float, float]) -> OrgPolicy:
    """What ``plan`` allows over ``period`` (start and end, epoch seconds)."""
    quotas = {}
    if plan.token_quota is not None:
        quotas["text"] = plan.token_quota
    if plan.image_quota is not None:
        quotas["image"] = plan.image_quota
    if plan.audio_seconds_quota is not None:
        quotas["audio"] = plan.audio_seconds_quota * 1000
    return OrgPolicy(
        plan=plan.slug,
        status=status,
        requests_per_minute=plan.requests_per_minute,
        user_requests_per_minute=plan.user_requests_per_minute,
        concurrent=plan.concurrent_requests,
        quotas=quotas,
        period_start=period[0],
        period_end=period[1],
        allowed_models=frozenset(plan.allowed_models or ()),
        credit_enforced=plan.overage_policy == plan.Overage.BLOCK,
    )


#: The policy of an organisation that has no subscription while the default plan
#: (``BILLING_DEFAULT_PLAN``) does not exist: refused, never waved through unlimited.
MISSING_DEFAULT_PLAN = OrgPolicy(status=MISSING_PLAN_STATUS)


T = TypeVar("T")
#: key → (monotonic expiry, value)
Cache = MutableMapping[Any, tuple[float, Any]]


async def _cached(cache: Cache, key: object, load: Callable[[], Awaitable[T]]) -> T:
    """``cache[key]``; an expired entry is served while one background load refreshes it, so no
    request waits for the database once a value is known (and many requests arriving as it expires
    do not all query it). With no value yet, or a TTL of 0, the caller loads it and waits."""
    now = time.monotonic()
    cached = cache.get(key)
    if cached is None or _ttl() <= 0:
        return await _load(cache, key, load, cached)
    if cached[0] <= now:
        _refresh(cache, key, load, cached)
    value: T = cached[1]
    return value


async def _load(cache: Cache, key: object, load: Callable[[], Awaitable[T]], cached: tuple[float, Any] | None) -> T:
    """Load ``cache[key]``; while the database is unreachable, the expired value (its failed
    connection closed: no request signal does it on the hot path), retried a second later."""
    try:
        value = await load()
    except DatabaseError:
        if cached is None:
            raise
        await sync_to_async(close_old_connections)()
        cache[key] = (time.monotonic() + STALE_RETRY_SECONDS, cached[1])
        stale: T = cached[1]
        return stale
    cache[key] = (time.monotonic() + _ttl(), value)
    return value


_refreshing: dict[tuple[int, object], asyncio.Task[Any]] = {}


def _refresh(cache: Cache, key: object, load: Callable[[], Awaitable[Any]], cached: tuple[float, Any]) -> None:
    """Start one background load of an expired entry (none if one is already on its way)."""
    slot = (id(cache), key)
    running = _refreshing.get(slot)
    if running is not None and not running.done() and running.get_loop() is asyncio.get_running_loop():
        return
    # Until it lands, this value stays served without starting another load.
    cache[key] = (time.monotonic() + STALE_RETRY_SECONDS, cached[1])
    task = asyncio.ensure_future(_load(cache, key, load, cached))
    task.add_done_callback(_refreshed)
    _refreshing[slot] = task


def _refreshed(task: asyncio.Task[Any]) -> None:
    for slot, running in list(_refreshing.items()):
        if running is task:
            del _refreshing[slot]
    if not task.cancelled() and task.exception() is not None:
        log.error("billing.policy_refresh_failed", error_type=type(task.exception()).__name__)


async def _load_org_policy(organization_id: int) -> OrgPolicy:
    subscriptions = Subscription.objects.select_related("plan").filter(organization_id=organization_id)
    subscription = await subscriptions.afirst()
    if subscription is None and settings.BILLING_DEFAULT_PLAN:
        # An organisation nobody subscribed (one a stranger created after registering, say) is held
        # to the default plan, over calendar months, rather than left unlimited.
        plan = await Plan.objects.filter(slug=settings.BILLING_DEFAULT_PLAN).afirst()
        if plan is None:
            log.error("billing.default_plan_missing", plan=settings.BILLING_DEFAULT_PLAN)
            return MISSING_DEFAULT_PLAN
        return policy_from_plan(plan, status=None, period=_month_window(time.time()))
    return policy_from_subscription(subscription)


async def org_policy(organization_id: int) -> OrgPolicy:
    return await _cached(_orgs, organization_id, lambda: _load_org_policy(organization_id))


async def _table(name: str, load: Callable[[], Awaitable[T]]) -> T:
    return await _cached(_shared, name, load)


async def _load_provider_limits() -> dict[str, tuple[int | None, int | None]]:
    return {
        row.provider: (row.requests_per_minute, row.concurrent_requests) async for row in ProviderLimit.objects.all()
    }


async def _load_prices() -> dict[tuple[str, str], UnitPrices]:
    return {(row.provider, row.model): unit_prices(row) async for row in Price.objects.all()}


def unit_prices(row: Price) -> UnitPrices:
    return UnitPrices(
        per_1k_input_tokens=row.per_1k_input_tokens,
        per_1k_output_tokens=row.per_1k_output_tokens,
        per_image=row.per_image,
        per_image_by_size=tuple(sorted((str(k), int(v)) for k, v in (row.per_image_by_size or {}).items())),
        per_audio_second=row.per_audio_second,
        per_1k_characters=row.per_1k_characters,
    )


async def prices_for(provider: Provider | None, model: str) -> UnitPrices:
    """Admin price for (provider, model), then (any provider, model), then the plugin's default, else free.

    ``model`` is the name the request used; when nothing is priced under it and it is an alias the
    provider routes to one of its models (``whisper-1``, ``tts-1``), that model's price applies: an
    alias must not make a model free.
    """
    table = await _table("prices", _load_prices)
    found = _priced(table, provider, model)
    if found is None and provider is not None:
        served = _aliased_model(provider, model)
        if served is not None:
            found = _priced(table, provider, served)
    return found if found is not None else FREE


def _priced(table: dict[tuple[str, str], UnitPrices], provider: Provider | None, model: str) -> UnitPrices | None:
    name = provider.name if provider is not None else ""
    found = table.get((name, model)) or table.get(("", model))
    if found is not None or provider is None:
        return found
    for rule in provider.prices():
        if rule.model == model:
            return UnitPrices(
                rule.per_1k_input_tokens,
                rule.per_1k_output_tokens,
                rule.per_image,
                (),
                rule.per_audio_second,
                rule.per_1k_characters,
            )
    return None


def _aliased_model(provider: Provider, alias: str) -> str | None:
    """The id of the provider's model ``alias`` names (a model's own alias, or the operator's), or ``None``."""
    for model in provider.models():
        if alias in model.aliases:
            return model.id
    return provider.settings.model_aliases.get(alias)


def _month_window(now: float) -> tuple[int, float]:
    day = dt.datetime.fromtimestamp(now, dt.UTC)
    start = day.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start + dt.timedelta(days=calendar.monthrange(start.year, start.month)[1])
    return int(start.timestamp()), end.timestamp()


async def rules_for(identity: KeyIdentity, policy: OrgPolicy, provider: str, modality: str) -> list[Rule]:
    """Every limit that applies to this request, most specific first."""
    now = time.time()
    rules: list[Rule] = []
    key, overrides = f"key:{identity.key_id}", identity.limits
    if "requests_per_minute" in overrides:
        rules.append(Rule("rate", key, "requests", overrides["requests_per_minute"], 60))
    if "requests_per_day" in overrides:
        rules.append(Rule("rate", key, "requests-day", overrides["requests_per_day"], 86_400))
    if "concurrent" in overrides:
        rules.append(
            Rule("conc", key, "concurrent", overrides["concurrent"], settings.BILLING_CONCURRENCY_LEASE_SECONDS)
        )
    if "tokens_per_minute" in overrides and modality == "text":
        minute = int(now // 60) * 60
        rules.append(
            Rule("quota", key, "tokens-minute", overrides["tokens_per_minute"], 60, "tokens", minute, minute + 60)
        )
    if "credits_per_month" in overrides:
        start, end = _month_window(now)
        rules.append(Rule("quota", key, "credits", overrides["credits_per_month"], 31 * 86_400, "cost", start, end))
    org = f"org:{identity.organization_id}"
    if policy.user_requests_per_minute and identity.user_id is not None:
        rules.append(Rule("rate", f"user:{identity.user_id}", "requests", policy.user_requests_per_minute, 60))
    if policy.requests_per_minute:
        rules.append(Rule("rate", org, "requests", policy.requests_per_minute, 60))
    if policy.concurrent:
        rules.append(Rule("conc", org, "concurrent", policy.concurrent, settings.BILLING_CONCURRENCY_LEASE_SECONDS))
    if modality in policy.quotas and policy.period_end > now:
        family, unit = QUOTA_FAMILIES[modality]
        length = int(policy.period_end - policy.period_start)
        rules.append(
            Rule(
                "quota",
                org,
                family,
                policy.quotas[modality],
                length,
                unit,  # type: ignore[arg-type]
                int(policy.period_start),
                policy.period_end,
            )
        )
    limits = await _table("provider_limits", _load_provider_limits)
    rpm, concurrent = limits.get(provider, (None, None))
    if rpm:
        rules.append(Rule("rate", f"provider:{provider}", "requests", rpm, 60))
    if concurrent:
        lease = settings.BILLING_CONCURRENCY_LEASE_SECONDS
        rules.append(Rule("conc", f"provider:{provider}", "concurrent", concurrent, lease))
    return rules
