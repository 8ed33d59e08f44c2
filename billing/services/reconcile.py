"""The periodic job that settles requests whose process died between admission and settlement."""

from __future__ import annotations

import json
import time

import redis
from django.conf import settings

from billing._stores import HOLDS_KEY, credit_key
from billing.models import UsageEvent
from billing.services.ledger import usage_events_insert

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


def holds_reconcile(*, older_than: float | None = None) -> int:
    """Settle every reservation older than ``older_than`` seconds from the ledger; returns how many.

    A request's event may already be in the ledger (its settlement reached the database but not
    Redis): its recorded cost is used. Otherwise the process died before settling: the request is
    recorded with status 0 and its reserved estimate as cost — an upper bound of what the upstream
    may have billed — so nothing the operator paid for goes unrecorded, and it is recorded once.
    """
    url = settings.CONFIG.redis_url
    if not url:
        return 0
    older_than = settings.BILLING_HOLD_STALE_SECONDS if older_than is None else older_than
    client = redis.Redis.from_url(url, socket_timeout=5)
    release = client.register_script(RELEASE)
    cutoff = time.time() - older_than
    settled = 0
    try:
        for raw_id, raw in client.hscan_iter(HOLDS_KEY, count=500):
            ledger_id = raw_id.decode()
            organization_id, estimate, enforced, since, *rest = json.loads(raw)
            slots = rest[0] if rest else []
            if since > cutoff:
                continue
            cost = UsageEvent.objects.filter(request_id=ledger_id).values_list("cost", flat=True).first()
            if cost is None:
                cost = estimate
                usage_events_insert(
                    events=[
                        {
                            "request_id": ledger_id,
                            "client_request_id": "",
                            "created_at": since,
                            "organization_id": organization_id,
                            "key_id": None,
                            "user_id": None,
                            "provider": "",
                            "model": "",
                            "operation": "",
                            "modality": "",
                            "input_tokens": 0,
                            "output_tokens": 0,
                            "images": 0,
                            "audio_seconds": 0.0,
                            "characters": 0,
                            "usage_source": "estimated",
                            "cost": cost,
                            "status": STATUS_UNKNOWN,
                            "latency_ms": 0,
                            "cache_hit": False,
                        }
                    ]
                )
            keys = [credit_key(organization_id), HOLDS_KEY, *slots]
            settled += release(keys=keys, args=[ledger_id, estimate, cost, enforced])
    finally:
        client.close()
    return settled
