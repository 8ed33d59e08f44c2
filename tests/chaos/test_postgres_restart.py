"""PostgreSQL SIGKILLed and restarted under traffic: requests keep flowing or fail with a clear 503,
and the ledger catches up with nothing lost."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.chaos.conftest import Chaos
from tests.chaos.traffic import CHAT, Tally, request_id

CLIENTS = 4
JOB = {"kind": "text", "request": {"model": "openai", "messages": [{"role": "user", "content": "hello"}]}}

#: Real processes, several minutes in all (the cluster starts once per session).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


async def test_postgres_killed_and_restarted_under_traffic_loses_no_ledger_event(chaos: Chaos):
    rng = chaos.rng("postgres-restart")
    key = chaos.tenants["pg"]["keys"][0]
    tally, stop, bodies = Tally(), asyncio.Event(), {}

    async def client() -> None:
        async with httpx.AsyncClient(base_url=chaos.cluster.url, timeout=60) as http:
            while not stop.is_set():
                rid = request_id()
                auth = {"Authorization": f"Bearer {key}", "X-Request-ID": rid}
                try:
                    answer = await http.post("/v1/chat/completions", json=CHAT, headers=auth)
                except httpx.HTTPError as exc:
                    tally.errors.append(f"{rid}: {type(exc).__name__}")
                    continue
                tally.add(answer.status_code, rid)
                if answer.status_code != 200:
                    bodies.setdefault(answer.status_code, answer.json())
                await asyncio.sleep(0.05)

    clients = [asyncio.ensure_future(client()) for _ in range(CLIENTS)]
    await asyncio.sleep(rng.uniform(1.0, 2.0))
    await asyncio.to_thread(chaos.kill_postgres)
    down_for = rng.uniform(2.0, 4.0)
    await asyncio.sleep(down_for)
    await asyncio.to_thread(chaos.start_postgres)
    await asyncio.sleep(5)
    stop.set()
    await asyncio.gather(*clients)
    print(
        f"[chaos] postgres killed for {down_for:.1f} s under {CLIENTS} clients: {tally.figures()}; errors: {bodies}",
        flush=True,
    )
    assert not tally.errors
    assert set(tally.by_status) <= {200, 503}, bodies
    assert all(body["error"]["code"] for body in bodies.values())

    # Work that needs the database right now (a job is a row) goes through again.
    async with httpx.AsyncClient(base_url=chaos.cluster.url, timeout=60) as http:
        jobs = await asyncio.gather(
            *(http.post("/v1/jobs", json=JOB, headers={"Authorization": f"Bearer {key}"}) for _ in range(6))
        )
    print(f"[chaos] after the restart: 6 job submissions: {sorted(j.status_code for j in jobs)}", flush=True)
    assert [j.status_code for j in jobs] == [202] * 6

    served = tally.by_status.get(200, [])

    def rows() -> dict[str, int]:
        return dict(
            chaos.query(
                "SELECT client_request_id, count(*) FROM billing_usageevent "
                "WHERE client_request_id = ANY(%s) GROUP BY 1",
                (served,),
            )
        )

    took = chaos.wait("the ledger caught up", lambda: len(rows()) == len(served), 90)
    print(
        f"[chaos] ledger: {len(served)} answers 200, all on the ledger once, caught up {took:.1f} s after "
        "the traffic stopped",
        flush=True,
    )
    assert set(rows().values()) == {1}
    assert chaos.writer_running()
