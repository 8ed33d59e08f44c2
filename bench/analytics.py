"""Analytics benchmark: seed 1,000,000 ledger rows in PostgreSQL, time each analytics query (p50 of a few runs).

Usage: ``DATABASE_URL=postgres://…/db python bench/analytics.py [--rows N] [--runs 5] [--keep]``.
Seeds with one ``INSERT … SELECT … FROM generate_series`` (seconds, not minutes), into a fresh
organisation set (``bench-*``); prints a PASS/FAIL table against 200 ms and writes
``bench/results/analytics.json``. ``--keep`` reuses the rows of an earlier run.
"""

from __future__ import annotations

import argparse
import datetime as dt
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

from django.db import connection  # noqa: E402

from accounts.models import Organization  # noqa: E402
from billing.selectors import latency_percentiles, usage_summary  # noqa: E402

BUDGET_MS = 200.0
ORGS = 50
DAYS = 30

SEED_SQL = """
INSERT INTO billing_usageevent (request_id, client_request_id, created_at, organization_id, key_id, user_id,
    provider, model, operation, modality, input_tokens, output_tokens, images, audio_seconds, characters,
    usage_source, cost, status, latency_ms, cache_hit)
SELECT 'bench-' || g, '', now() - (random() * interval '{days} days'), %(first_org)s + (g %% {orgs}),
    1000 + (g %% 400), NULL, 'pollinations-text',
    (ARRAY['openai','mistral','flux','gptimage','openai-audio','deepseek'])[1 + (g %% 6)],
    'chat', 'text', (random() * 500)::int, (random() * 800)::int, 0, 0, 0, 'upstream',
    (random() * 100000)::int, CASE WHEN g %% 50 = 0 THEN 500 WHEN g %% 97 = 0 THEN 429 ELSE 200 END,
    (50 + random() * 900)::int, g %% 20 = 0
FROM generate_series(1, %(rows)s) AS g
"""


ROLLUP_SQL = """
INSERT INTO billing_usagedaily (organization_id, day, provider, model, modality, key_id, requests, errors, cost,
    input_tokens, output_tokens, images, latency_ms_sum, latency_ms_max)
SELECT organization_id, (created_at AT TIME ZONE 'UTC')::date, provider, model, modality, coalesce(key_id, 0),
    count(*), count(*) FILTER (WHERE status >= 400), sum(cost), sum(input_tokens), sum(output_tokens), sum(images),
    sum(latency_ms), max(latency_ms)
FROM billing_usageevent WHERE request_id LIKE 'bench-%%' AND organization_id BETWEEN %s AND %s
GROUP BY 1, 2, 3, 4, 5, 6
"""


def seed(rows: int) -> int:
    orgs = [
        Organization.objects.get_or_create(slug=f"bench-{i}", defaults={"name": f"Bench {i}"})[0] for i in range(ORGS)
    ]
    first = orgs[0].pk
    if any(o.pk != first + i for i, o in enumerate(orgs)):
        raise SystemExit("bench organisations do not have consecutive ids; drop them and run again")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM billing_usageevent WHERE request_id LIKE 'bench-%%'")
        started = time.perf_counter()
        cursor.execute(SEED_SQL.format(days=DAYS, orgs=ORGS), {"first_org": first, "rows": rows})
        cursor.execute("DELETE FROM billing_usagedaily WHERE organization_id BETWEEN %s AND %s", [first, first + ORGS])
        # What the ledger writer maintains event by event, rebuilt here in one statement.
        cursor.execute(ROLLUP_SQL, [first, first + ORGS])
    # Autovacuum does this for an append-only table in production (insert threshold); here, at once,
    # so index-only scans see an up-to-date visibility map. VACUUM cannot run in a transaction.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE billing_usageevent")
        cursor.execute("VACUUM ANALYZE billing_usagedaily")
    print(f"seeded {rows:,} rows in {time.perf_counter() - started:.1f} s")
    return first


def measure(runs: int, first_org: int) -> list[dict]:
    end = dt.datetime.now(dt.UTC)
    start = end - dt.timedelta(days=DAYS)
    org = {"organization_id": first_org, "start": start, "end": end}
    everyone = {"organization_id": None, "start": start, "end": end}
    queries = {
        "org requests/cost/errors per day": lambda: usage_summary(**org, group_by="day"),
        "org top models": lambda: usage_summary(**org, group_by="model"),
        "org top keys": lambda: usage_summary(**org, group_by="key"),
        "org latency percentiles": lambda: latency_percentiles(**org),
        "org one model per day": lambda: usage_summary(**org, group_by="day", model="openai"),
        "all orgs per day": lambda: usage_summary(**everyone, group_by="day"),
        "all orgs top organisations": lambda: usage_summary(**everyone, group_by="organization"),
        "all orgs latency percentiles": lambda: latency_percentiles(**everyone),
    }
    results = []
    for name, query in queries.items():
        query()  # warm the cache, as a dashboard refresh would
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            query()
            timings.append((time.perf_counter() - started) * 1000)
        p50 = statistics.median(timings)
        results.append(
            {"query": name, "p50_ms": round(p50, 1), "max_ms": round(max(timings), 1), "pass": p50 < BUDGET_MS}
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="reuse rows seeded by an earlier run")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database: the budget is for PostgreSQL.")
    first = Organization.objects.filter(slug="bench-0").values_list("pk", flat=True).first()
    if not args.keep or first is None:
        first = seed(args.rows)
    results = measure(args.runs, first)
    print(f"{'query':40} {'p50 ms':>8} {'max ms':>8}  result")
    for r in results:
        print(f"{r['query']:40} {r['p50_ms']:8.1f} {r['max_ms']:8.1f}  {'PASS' if r['pass'] else 'FAIL'}")
    out = ROOT / "bench" / "results" / "analytics.json"
    out.write_text(
        json.dumps(
            {
                "rows": args.rows,
                "runs": args.runs,
                "budget_ms": BUDGET_MS,
                "orgs": ORGS,
                "days": DAYS,
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
