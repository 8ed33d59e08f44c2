"""Redis SIGKILLed and restarted under bursts: exact limits again 2 s after it answers, credits never
refused once it is back, the ledger writer still running, every 2xx on the ledger exactly once."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.chaos.conftest import Chaos
from tests.chaos.traffic import burst

LIMIT, BURST, REPLICAS = 50, 200, 3

#: Real processes, several minutes in all (the cluster starts once per session).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _exact(tally) -> bool:
    return tally.count(200) == LIMIT and tally.count(429) == BURST - LIMIT and not tally.errors


async def test_redis_killed_and_restarted_under_bursts_keeps_limits_credits_and_ledger_exact(chaos: Chaos):
    rng = chaos.rng("redis-restart")
    url, keys = chaos.cluster.url, chaos.tenants["burst"]["keys"]
    prepaid = chaos.tenants["prepaid"]["keys"][0]

    up = await burst(url, keys[0], BURST)
    print(f"[chaos] redis up: fresh {LIMIT}/min key, {BURST} at once: {up.figures()}", flush=True)
    assert _exact(up), up.figures()

    chaos.kill_redis()
    await asyncio.sleep(rng.uniform(0.1, 1.0))
    down = await burst(url, keys[1], BURST)
    refused = await burst(url, prepaid, 10)
    print(f"[chaos] redis down: fresh key: {down.figures()}; credit-enforced org: {refused.figures()}", flush=True)
    # Per-process counters: never more than replicas × limit in the window, and every answer is one.
    assert LIMIT <= down.count(200) <= REPLICAS * LIMIT and down.count(200) + down.count(429) == BURST
    assert refused.count(503) == 10  # credits fail closed, never given away

    chaos.start_redis()
    await asyncio.sleep(2)  # "from 2 s after it answers again"
    back = await burst(url, keys[2], BURST)
    credits = await burst(url, prepaid, 20)
    print(
        f"[chaos] redis back (+2 s): fresh key: {back.figures()}; credit-enforced org: {credits.figures()}", flush=True
    )
    assert _exact(back), back.figures()
    assert credits.count(200) == 20, credits.figures()  # 0 spurious 503s after recovery
    again = await burst(url, keys[0], 10)
    assert again.count(429) == 10  # the window of before the kill survived it (AOF)

    assert chaos.writer_running()
    chaos.wait("ledger writer ready", lambda: httpx.get(f"{chaos.writer_url}/readyz").status_code == 200, 60)
    served = [rid for tally in (up, down, back, credits) for rid in tally.by_status.get(200, [])]

    def rows() -> dict[str, int]:
        found = chaos.query(
            "SELECT client_request_id, count(*) FROM billing_usageevent WHERE client_request_id = ANY(%s) GROUP BY 1",
            (served,),
        )
        return dict(found)

    took = chaos.wait("every 2xx on the ledger", lambda: len(rows()) == len(served), 60)
    counts = rows()
    print(
        f"[chaos] ledger: {len(served)} answers 2xx, {len(counts)} rows by client request id, "
        f"{sum(c - 1 for c in counts.values())} duplicates, caught up in {took:.1f} s",
        flush=True,
    )
    assert set(counts.values()) == {1}
