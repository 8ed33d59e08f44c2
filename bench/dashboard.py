"""Dashboard benchmark: server time of each page (p50/p95) for an organisation of a 1,000,000-row ledger.

Usage: ``DATABASE_URL=postgres://…/db python bench/dashboard.py [--rows N] [--runs 40] [--keep]``.
Seeds the ledger with :func:`bench.analytics.seed` (50 ``bench-*`` organisations, 30 days), makes
the owner of ``bench-0`` and times each page through Django's full stack in-process (middleware,
session, templates; no network), signed in as that owner. Prints a PASS/FAIL table against 50 ms at
p95 and writes ``bench/results/dashboard.json``. ``--keep`` reuses rows seeded earlier.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcp_site.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from accounts.models import Organization, User  # noqa: E402
from accounts.services import api_key_create, membership_add  # noqa: E402
from bench.analytics import seed  # noqa: E402
from billing.models import Plan, Subscription  # noqa: E402
from billing.services import subscription_create  # noqa: E402

BUDGET_P95_MS = 50.0
PAGES = (
    "/",
    "/usage/",
    "/usage/?days=90",
    "/usage/export.csv",
    "/billing/",
    "/keys/",
    "/jobs/",
    "/results/",
    "/members/",
    "/playground/",
    "/audit/",
)


def owner_of(first_org: int) -> User:
    organization = Organization.objects.get(pk=first_org)
    user, created = User.objects.get_or_create(email="bench-owner@example.com")
    if created:
        membership_add(organization=organization, user=user, role="owner")
        for number in range(20):
            api_key_create(organization=organization, name=f"bench-{number}", scopes=["text"], enforce_role=False)
    if not Subscription.objects.filter(organization=organization).exists():
        plan, _ = Plan.objects.get_or_create(slug="bench", defaults={"name": "Bench", "token_quota": 10**9})
        subscription_create(organization=organization, plan=plan)
    return user


def measure(client: Client, runs: int) -> list[dict]:
    results = []
    for path in PAGES:
        assert client.get(path).status_code == 200, path  # warm caches, as a person's second visit
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(path)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, path
        timings.sort()
        p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
        results.append(
            {
                "page": path,
                "p50_ms": round(statistics.median(timings), 1),
                "p95_ms": round(p95, 1),
                "pass": p95 < BUDGET_P95_MS,
            }
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--keep", action="store_true", help="reuse rows seeded by an earlier run")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database: the budget is for PostgreSQL.")
    settings.ALLOWED_HOSTS = ["testserver", *settings.ALLOWED_HOSTS]
    first = Organization.objects.filter(slug="bench-0").values_list("pk", flat=True).first()
    if not args.keep or first is None:
        first = seed(args.rows)
    rows = connection.cursor().execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'billing_usageevent'")
    ledger_rows = rows.fetchone()[0]
    client = Client()
    client.force_login(owner_of(first))
    results = measure(client, args.runs)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"ledger ≈ {ledger_rows:,} rows; {args.runs} requests per page, signed in as an owner; load {load}")
    print(f"{'page':24} {'p50 ms':>8} {'p95 ms':>8}  result")
    for r in results:
        print(f"{r['page']:24} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f}  {'PASS' if r['pass'] else 'FAIL'}")
    out = ROOT / "bench" / "results" / "dashboard.json"
    out.write_text(
        json.dumps(
            {
                "ledger_rows": ledger_rows,
                "runs": args.runs,
                "budget_p95_ms": BUDGET_P95_MS,
                # The machine's load (1, 5, 15 minutes) as the run ended: server time grows with it.
                "load_average": [round(load, 1) for load in os.getloadavg()],
                "results": results,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out.relative_to(ROOT)}")
    if not all(r["pass"] for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
