"""Job queue benchmark: enqueue → running latency with an idle worker, throughput with two workers, no job lost.

Usage (PostgreSQL recommended; the database is migrated first and jobs are left in it)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/jobs python bench/jobs.py --jobs 10000

Starts the bundled simulator (zero latency), creates an organisation and key, starts ``--workers``
``db_worker`` processes, then measures (1) submit → running for ``--latency-samples`` jobs sent
one at a time to an idle worker, and (2) the time for ``--jobs`` jobs submitted at once to all
finish. Writes ``bench/results/jobs.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--latency-samples", type=int, default=50)
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "jobs.json"))
    args = parser.parse_args()

    from tests.fixtures.simulator_server import run_simulator

    with run_simulator() as upstream:
        env = {
            **os.environ,
            "POLLINATIONS_GEN_URL": upstream,
            "POLLINATIONS_IMAGE_URL": f"{upstream}/legacy/image",
            "POLLINATIONS_TEXT_URL": f"{upstream}/legacy/text",
            "LOG_LEVEL": "ERROR",
        }
        os.environ.update(env)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcp_site.settings")
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        return _run(args, env)


def _run(args, env: dict[str, str]) -> int:
    from django.db import connection

    from accounts.services import api_key_create, organization_create
    from jobs.models import Job
    from jobs.services import job_create

    slug = f"bench-{int(time.time())}"
    organization = organization_create(name="Bench", slug=slug)
    key, _ = api_key_create(organization=organization, name="bench", scopes=("image", "text", "audio"))
    cap = max(args.jobs, 1)

    def submit() -> Job:
        return job_create(
            organization_id=organization.id,
            key_id=key.id,
            user_id=None,
            kind="text",
            model="openai",
            params={"messages": [{"role": "user", "content": "hi"}]},
            max_running=cap,
        )[0]

    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "db_worker",
                "--interval",
                "0.01",
                "--no-startup-delay",
                "--no-reload",
                "--verbosity",
                "0",
            ],
            cwd=ROOT,
            env=env,
        )
        for _ in range(args.workers)
    ]
    try:
        time.sleep(3)  # let the workers start
        waits = []
        for _ in range(args.latency_samples):
            job = submit()
            while True:
                job.refresh_from_db(fields=["started_at", "status"])
                if job.started_at:
                    break
                time.sleep(0.002)
            waits.append((job.started_at - job.created_at).total_seconds() * 1000)
            while Job.objects.filter(id=job.id, status="running").exists():
                time.sleep(0.005)
        started = time.perf_counter()
        ids = [submit().id for _ in range(args.jobs)]
        submitted = time.perf_counter() - started
        batch = Job.objects.filter(id__in=ids)
        deadline = time.monotonic() + max(120, args.jobs / 5)
        while batch.filter(status__in=["queued", "running"]).exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        counts = {row["status"]: row["n"] for row in batch.values("status").annotate(n=django_count())}
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(20)
    result = {
        "database": connection.vendor,
        "workers": args.workers,
        "jobs": args.jobs,
        "enqueue_to_running_ms": {
            "p50": round(statistics.median(waits), 2),
            "p95": round(_percentile(waits, 0.95), 2),
            "samples": len(waits),
        },
        "submit_seconds": round(submitted, 2),
        "total_seconds": round(elapsed, 2),
        "throughput_jobs_per_second": round(args.jobs / elapsed, 1),
        "statuses": counts,
        "lost": args.jobs - counts.get("succeeded", 0) - counts.get("failed", 0),
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if result["lost"] == 0 else 1


def django_count():
    from django.db.models import Count

    return Count("id")


if __name__ == "__main__":
    sys.exit(main())
