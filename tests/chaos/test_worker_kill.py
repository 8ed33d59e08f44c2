"""Job workers SIGKILLed again and again mid-attempt: every job succeeds, each is charged exactly once,
and no hold is left."""

from __future__ import annotations

import asyncio
import os
import time

import httpx
import pytest

from scripts.local_processes import PYTHON
from tests.chaos.conftest import RECONCILE_WITHIN_SECONDS, Chaos
from tests.chaos.traffic import request_id

#: The issue asks for 200 jobs with a worker killed every 15 s; scaled down to fit CI's time budget
#: (same kill rate per job attempt: each attempt takes ~1.5 s, a kill comes every 3-5 s).
#: CHAOS_JOBS raises it.
JOBS = 24
#: Kills while jobs remain, one every 3-5 s; then the survivors finish the rest.
MAX_KILLS = 6
#: From this many jobs on (``CHAOS_JOBS=200``), the issue's rhythm: a kill every 15 s until every job has ended.
FULL_SCALE = 200
IMAGE_JOB = {"kind": "image", "request": {"model": "flux", "prompt": "a lighthouse"}}

#: Real processes, several minutes in all (the cluster starts once per session).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


async def test_jobs_whose_workers_are_killed_succeed_and_are_charged_exactly_once(chaos: Chaos):
    rng = chaos.rng("worker-kill")
    count = int(os.environ.get("CHAOS_JOBS", JOBS))
    key, organization = chaos.tenants["jobs"]["keys"][0], chaos.tenants["jobs"]["org"]
    headers = {"Authorization": f"Bearer {key}", "X-Sim-Fault": "latency=1500ms"}
    async with httpx.AsyncClient(base_url=chaos.cluster.url, timeout=60, headers=headers) as http:
        submitted = await asyncio.gather(
            *(http.post("/v1/jobs", json=IMAGE_JOB, headers={"X-Request-ID": request_id()}) for _ in range(count))
        )
        assert {s.status_code for s in submitted} == {202}, [s.text for s in submitted if s.status_code != 202][:1]
        ids = [s.json()["id"] for s in submitted]

        async def statuses() -> dict[str, str]:
            answers = await asyncio.gather(*(http.get(f"/v1/jobs/{job_id}") for job_id in ids))
            return {job_id: a.json()["status"] for job_id, a in zip(ids, answers, strict=True)}

        full_scale = count >= FULL_SCALE
        pause, max_kills = ((15.0, 15.0), count) if full_scale else ((3.0, 5.0), MAX_KILLS)
        kills, deadline, last_kill = [], time.monotonic() + max(240, 6 * count), time.monotonic()
        while time.monotonic() < deadline:
            state = await statuses()
            if all(s in ("succeeded", "failed", "cancelled") for s in state.values()):
                break
            await asyncio.sleep(rng.uniform(*pause))
            if len(kills) < max_kills:
                worker = f"worker-{rng.randrange(chaos.cluster.workers) + 1}"
                kills.append(worker)
                await asyncio.to_thread(chaos.cluster.group.kill, worker)
                chaos.cluster.group.start(worker, [PYTHON, "manage.py", "db_worker"], chaos.cluster.env)
                last_kill = time.monotonic()
        outcome = await statuses()
    finished = sum(1 for s in outcome.values() if s == "succeeded")
    print(f"[chaos] {count} image jobs, workers killed (SIGKILL) {len(kills)} times: {finished} succeeded", flush=True)
    unfinished = [job_id for job_id, status in outcome.items() if status != "succeeded"]
    assert finished == count, (
        chaos.query(
            "SELECT id, status, attempt, heartbeat_at, updated_at, error FROM jobs_job WHERE id = ANY(%s::uuid[])",
            (unfinished,),
        ),
        chaos.query(
            "SELECT status, max(started_at), count(*) FROM django_tasks_database_dbtaskresult "
            "WHERE task_path = 'jobs.tasks.job_reap' GROUP BY status"
        ),
    )

    chaos.wait("no hold left", lambda: chaos.holds(organization) == 0, RECONCILE_WITHIN_SECONDS)
    charges = {f"job-{job_id}" for job_id in ids}

    def ledger() -> list[tuple[str, int]]:
        return chaos.query(
            "SELECT request_id, cost FROM billing_usageevent WHERE organization_id = %s", (organization,)
        )

    chaos.wait("every job charged", lambda: charges <= {r for r, _ in ledger()}, 60)
    rows = ledger()
    charged = [r for r, cost in rows if r in charges]
    attempts = [(r, cost) for r, cost in rows if r not in charges]
    balance, expected = chaos.balance_matches_ledger(organization)
    print(
        f"[chaos] ledger: {len(charged)} job charges for {count} jobs, {len(attempts)} other attempts "
        f"(cost {sum(c for _, c in attempts)}), holds left 0, {time.monotonic() - last_kill:.0f} s after the "
        f"last kill; balance {balance} = grants − ledger {expected}",
        flush=True,
    )
    assert sorted(charged) == sorted(charges)  # exactly once each
    assert all(cost == 0 for _, cost in attempts)  # an abandoned attempt adds no charge
    assert balance == expected
