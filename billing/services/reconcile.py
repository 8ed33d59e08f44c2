"""Settling the reservations of requests whose process died between admission and settlement.

Every hold in Redis records the process that took it (see :mod:`billing.heartbeat`). A hold is
settled when its process has stopped beating — confirmed by two passes at least
:data:`CONFIRM_SECONDS` apart, so a process that merely missed beats while Redis restarted is not
taken for dead — or, whatever its process, once it is older than ``BILLING_HOLD_STALE_SECONDS``.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field

import redis
from django.conf import settings

from billing import heartbeat
from billing._stores import HOLDS_KEY, credit_key
from billing.models import UsageEvent
from billing.services.ledger import usage_events_insert
from core.redis_clients import sync_client

#: KEYS: credit hash, holds hash, concurrency keys…; ARGV: ledger id, estimate, cost, credit mode.
RELEASE = """
for i = 3, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
if redis.call('HDEL', KEYS[2], ARGV[1]) == 1 then
  if ARGV[4] == '1' then
    redis.call('HINCRBY', KEYS[1], 'held', -tonumber(ARGV[2]))
    redis.call('HINCRBY', KEYS[1], 'used', tonumber(ARGV[3]))
  end
  return 1
end
return 0
"""
#: Status written on the ledger for a request found without a settlement: its outcome is unknown.
STATUS_UNKNOWN = 0
#: A process missing at one pass is taken for dead if it is still missing this much later.
CONFIRM_SECONDS = 2 * heartbeat.INTERVAL_SECONDS
SUSPECT_PREFIX = "mcp:bill:suspect:"
#: A replay of a request cut before its answer started is looked for from this long before its hold.
REPLAY_WINDOW_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Hold:
    """A reservation as :func:`billing._stores.hold_record` wrote it."""

    organization_id: int
    estimate: int
    enforced: int
    since: float
    slots: list[str] = field(default_factory=list)
    process: str = ""
    key_id: int | None = None
    user_id: int | None = None
    client_request_id: str = ""
    charge_id: str = ""
    provider: str = ""
    model: str = ""
    operation: str = ""
    modality: str = ""

    @classmethod
    def parse(cls, raw: bytes) -> Hold:
        data = json.loads(raw)
        if isinstance(data, list):  # written before holds carried their process and ids
            organization_id, estimate, enforced, since, *rest = data
            return cls(organization_id, estimate, enforced, since, rest[0] if rest else [])
        return cls(
            data["o"],
            data["e"],
            data["c"],
            data["t"],
            data.get("s", []),
            data.get("p", ""),
            data.get("k"),
            data.get("u"),
            data.get("r", ""),
            data.get("j", ""),
            data.get("v", ""),
            data.get("m", ""),
            data.get("op", ""),
            data.get("md", ""),
        )


def _dead_processes(client: redis.Redis, processes: set[str], now: float) -> set[str]:
    """Processes without a heartbeat now and at a pass at least :data:`CONFIRM_SECONDS` ago."""
    living = heartbeat.alive(client, processes)
    if living:
        client.delete(*(SUSPECT_PREFIX + p for p in living))  # back (or never gone): start afresh next time
    missing = sorted(processes - living)
    if not missing:
        return set()
    pipe = client.pipeline(transaction=False)
    for process in missing:
        pipe.set(SUSPECT_PREFIX + process, now, nx=True, ex=600)
        pipe.get(SUSPECT_PREFIX + process)
    replies = pipe.execute()
    first_missed = [float(replies[2 * i + 1]) for i in range(len(missing))]
    return {p for p, first in zip(missing, first_missed, strict=True) if now - first >= CONFIRM_SECONDS}


def _estimated_event(request_id: str, hold: Hold) -> dict:
    return {
        "request_id": request_id,
        "client_request_id": hold.client_request_id,
        "created_at": hold.since,
        "organization_id": hold.organization_id,
        "key_id": hold.key_id,
        "user_id": hold.user_id,
        "provider": hold.provider,
        "model": hold.model,
        "operation": hold.operation,
        "modality": hold.modality,
        "input_tokens": 0,
        "output_tokens": 0,
        "images": 0,
        "audio_seconds": 0.0,
        "characters": 0,
        "usage_source": "estimated",
        "cost": hold.estimate,
        "status": STATUS_UNKNOWN,
        "latency_ms": 0,
        "cache_hit": False,
    }


def _replayed(ledger_id: str, hold: Hold) -> bool:
    """Whether the same request (same key, same client request id, about then) was served by another
    process: a load balancer replays a request whose replica died before answering (nginx
    ``proxy_next_upstream … non_idempotent`` keeps its ``X-Request-ID``), and it is billed once."""
    if not hold.client_request_id or hold.key_id is None:
        return False
    since = dt.datetime.fromtimestamp(hold.since - REPLAY_WINDOW_SECONDS, dt.UTC)
    return (
        UsageEvent.objects.filter(
            organization_id=hold.organization_id,
            created_at__gte=since,
            key_id=hold.key_id,
            client_request_id=hold.client_request_id,
        )
        .exclude(request_id=ledger_id)
        .exists()
    )


def _cost_of(ledger_id: str, hold: Hold) -> int:
    """What the hold costs, writing its ledger row if nothing recorded the request yet."""
    recorded = UsageEvent.objects.filter(request_id=ledger_id).values_list("cost", flat=True).first()
    if recorded is not None:
        return recorded  # the settlement reached the database, not Redis
    if hold.charge_id and UsageEvent.objects.filter(request_id=hold.charge_id).exists():
        return 0  # a job charged under its own id by another attempt: this attempt adds nothing
    if _replayed(ledger_id, hold):
        return 0
    # The process died before settling: an upper bound of what the upstream may have billed, recorded
    # once (a job under its charge id, so that a later success is not charged again).
    row_id = hold.charge_id or ledger_id
    usage_events_insert(events=[_estimated_event(row_id, hold)])
    return UsageEvent.objects.filter(request_id=row_id).values_list("cost", flat=True).first() or 0


def holds_reconcile(*, older_than: float | None = None) -> int:
    """Settle the holds of dead processes, and every hold older than ``older_than`` seconds; returns how many.

    :param older_than: default ``BILLING_HOLD_STALE_SECONDS``.
    """
    if not settings.CONFIG.redis_url:
        return 0
    stale_after = settings.BILLING_HOLD_STALE_SECONDS if older_than is None else older_than
    client = sync_client()
    release = client.register_script(RELEASE)
    now = time.time()
    holds = [(raw_id.decode(), Hold.parse(raw)) for raw_id, raw in client.hscan_iter(HOLDS_KEY, count=500)]
    # A process that has not beaten yet (its first hold is younger than a heartbeat's lifetime) is not suspect.
    candidates = {h.process for _, h in holds if h.process and now - h.since >= heartbeat.TTL_SECONDS}
    dead = _dead_processes(client, candidates, now)
    settled = 0
    for ledger_id, hold in holds:
        if hold.process not in dead and now - hold.since < stale_after:
            continue
        cost = _cost_of(ledger_id, hold)
        keys = [credit_key(hold.organization_id), HOLDS_KEY, *hold.slots]
        settled += release(keys=keys, args=[ledger_id, hold.estimate, cost, hold.enforced])
    return settled
