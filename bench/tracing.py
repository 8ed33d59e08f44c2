"""What tracing costs on the hot path: the CPU per request it adds, against the same gateway untraced.

Two identical gateway processes differ by up to ±15 % in CPU per request on a shared 2-CPU machine
(memory layout, hash seed, where the scheduler puts them), and one process drifts by as much over a
few minutes; measured one after the other, a 10 % cost cannot be told from that. So each comparison
is a *pair measured at once*: the untraced gateway and one other, both under wrk at concurrency 16
for the same seconds, their CPU read from /proc over that window; both processes of every pair are
started fresh for it, so neither has served more requests than the other, and which of the two is
started and loaded first alternates from round to round (in four runs that always started the
untraced one first, the second of two identical processes read 3 to 4 % cheaper). The cost of a
configuration is the median, over the rounds, of its CPU per request divided by the untraced one's
measured beside it. The configurations (uvicorn, one worker each, the
simulator upstream, PostgreSQL and Redis as in ``bench/gateway.py``):

* ``off`` — no ``OTEL_*`` variable: what the hot path costs without tracing;
* ``off-control`` — a second untraced gateway, paired with ``off`` like the others: its spread is
  this machine's noise floor, against which the costs below are read;
* ``on-0`` — tracing on, the ratio 0: no request sampled, so what tracing costs every request
  whether sampled or not (its server span, the context sent upstream, the ids on its log line);
* ``on-10`` — ``OTEL_TRACES_SAMPLER=parentbased_traceidratio``, ``OTEL_TRACES_SAMPLER_ARG=0.1``,
  spans exported over OTLP/HTTP to a local receiver (this process) that accepts and drops them,
  the default instrumentations (the Redis one off);
* ``on-10-libraries`` — the same with ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=`` (empty) turning
  every library instrumentation on;
* ``on-100`` — every request sampled and exported (for reference).

Latency at concurrency 1 is measured for each configuration alone, every round.
Writes ``bench/results/tracing.json`` and ``bench/results/tracing.md``.

    python bench/tracing.py           # ~15 minutes
    QUICK=1 python bench/tracing.py   # ~2 minutes
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import statistics
import sys
import threading
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _procs import ROOT, started

_spec = importlib.util.spec_from_file_location("bench_gateway", Path(__file__).with_name("gateway.py"))
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

QUICK = os.environ.get("QUICK") == "1"
DURATION = 4 if QUICK else 8
WARMUP = 2
ROUNDS = 2 if QUICK else 8  # even: each side of a pair first in half of them
PAIR_CONCURRENCY = 16
SIM_PORT = 9211
_TEN = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}
CONFIGS = {
    "off": {},
    "off-control": {},
    "on-0": {**_TEN, "OTEL_TRACES_SAMPLER_ARG": "0"},
    "on-10": _TEN,
    # Every library instrumentation on, the aiohttp client and Redis ones included.
    "on-10-libraries": {**_TEN, "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": ""},
    "on-100": {"OTEL_TRACES_SAMPLER": "parentbased_always_on"},
}
PORTS = {name: 9212 + i for i, name in enumerate(CONFIGS)}
COMPARED = [name for name in CONFIGS if name != "off"]
LABELS = {
    "off-control": "off (a second untraced gateway: the noise floor)",
    "on-0": "on, nothing sampled (what every request pays)",
    "on-10": "on, 10 % sampled (the defaults)",
    "on-10-libraries": "on, 10 %, every library instrumented",
    "on-100": "on, every request sampled",
}
#: The aim (issue: tracing at 10 % sampling adds at most this much CPU per request).
AIM_PERCENT = 10.0


class Sink:
    """An OTLP/HTTP receiver that accepts and drops what it is sent, counting the bytes."""

    def __init__(self) -> None:
        self.requests = self.bytes = 0
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = len(self.rfile.read(int(self.headers.get("content-length", 0))))
                with sink.lock:  # one handler thread per export request
                    sink.bytes += size
                    sink.requests += 1
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def pair(servers: dict[str, tuple[int, str]], names: tuple[str, str], key: str) -> dict[str, dict[str, float]]:
    """Load both gateways at once for the same seconds (after a warm-up); each one's CPU per request."""
    _load_at_once(servers, names, key, WARMUP)
    return _load_at_once(servers, names, key, DURATION)


def _load_at_once(
    servers: dict[str, tuple[int, str]], names: tuple[str, str], key: str, seconds: float
) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}

    def load(name: str) -> None:
        pid, url = servers[name]
        results[name] = bench.loaded(url, pid, key=key, conc=PAIR_CONCURRENCY, seconds=seconds)

    threads = [threading.Thread(target=load, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def main() -> int:
    bench.WORK.mkdir(parents=True, exist_ok=True)
    bench.RESULTS.mkdir(parents=True, exist_ok=True)
    bench.ensure_wrk()
    bench.body_file()  # written once, before two wrk runs at a time read it
    sink = Sink()
    sim = f"http://127.0.0.1:{SIM_PORT}"
    base_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
        "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "POLLINATIONS_GEN_URL": sim,
        "POLLINATIONS_IMAGE_URL": f"{sim}/legacy/image",
        "POLLINATIONS_TEXT_URL": f"{sim}/legacy/text",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "BILLING_LEDGER_FLUSHER": "worker",
    }
    key = bench.prepare_database(base_env)
    results: dict[str, dict[str, list]] = {name: {"pairs": [], "c1": []} for name in CONFIGS}
    with (
        started(
            "simulator",
            [bench.PY, "-m", "simulator", "--host", "127.0.0.1", "--port", str(SIM_PORT)],
            env=dict(os.environ),
            health_url=f"{sim}/_sim/health",
            log_dir=bench.WORK,
        ),
        bench.background("ledger", [bench.PY, "manage.py", "billing_flush_ledger"], env=base_env, log_dir=bench.WORK),
    ):
        for round_ in range(ROUNDS):
            # Rotate the order, so no configuration always runs first (or right after the heaviest).
            order = COMPARED[round_ % len(COMPARED) :] + COMPARED[: round_ % len(COMPARED)]
            for name in order:
                # A fresh untraced gateway for every pair, so both sides have served the same requests.
                # Alternately first and second, so neither side of a pair always is.
                both = ("off", name) if round_ % 2 == 0 else (name, "off")
                with ExitStack() as stack:
                    servers = {
                        each: _gateway_started(stack, each, {**base_env, **_tracing_env(each, sink)}, key)
                        for each in both
                    }
                    bench.log(f"tracing round {round_ + 1}/{ROUNDS}: {both[0]} and {both[1]} at once")
                    measured = pair(servers, both, key)
                    results[name]["pairs"].append({"off": measured["off"], name: measured[name]})
                    for each in ("off", name) if name == order[0] else (name,):
                        pid, url = servers[each]
                        results[each]["c1"].append(bench.measured(url, pid, key=key, conc=1, seconds=DURATION / 2))
    return report(results, sink)


def _tracing_env(name: str, sink: Sink) -> dict[str, str]:
    extra = CONFIGS[name]
    return {**extra, "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url} if extra else {}


def _gateway_started(stack: ExitStack, name: str, env: dict[str, str], key: str) -> tuple[int, str]:
    """Start the gateway ``name`` on its port inside ``stack``; its pid and chat URL, checked with one call."""
    base = f"http://127.0.0.1:{PORTS[name]}"
    command = bench.gateway_command(PORTS[name], "--log-level", "warning", python=bench.PY)
    pid = stack.enter_context(started(name, command, env=env, health_url=f"{base}/healthz", log_dir=bench.WORK))
    url = f"{base}/v1/chat/completions"
    response = httpx.post(url, json=bench.BODY, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert response.status_code == 200, (name, response.text[:300])
    return pid, url


def added_percent(runs: list[dict], name: str) -> list[float]:
    """Per round: the CPU per request ``name`` added to the untraced gateway measured beside it."""
    return sorted((run[name]["cpu_ms_per_request"] / run["off"]["cpu_ms_per_request"] - 1) * 100 for run in runs)


def report(results: dict[str, dict[str, list]], sink: Sink) -> int:
    added = {name: added_percent(results[name]["pairs"], name) for name in COMPARED}
    median_added = {name: statistics.median(values) for name, values in added.items()}
    off_cpu = [run["off"]["cpu_ms_per_request"] for name in COMPARED for run in results[name]["pairs"]]

    def c1(name: str, field: str) -> float:
        return statistics.median(run[field] for run in results[name]["c1"])

    def cpu(name: str) -> float:
        return statistics.median(run[name]["cpu_ms_per_request"] for run in results[name]["pairs"])

    noise = sorted(added["off-control"])
    ten = median_added["on-10"]
    verdict = "PASS" if ten <= AIM_PERCENT else "FAIL"
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Tracing cost, {now}, {os.cpu_count()} CPUs, {ROUNDS} rounds of fresh processes; each configuration "
        f"measured at once with an untraced gateway (concurrency {PAIR_CONCURRENCY} each, {DURATION} s)",
        "",
        "| configuration | CPU per request added (median) | rounds, lowest to highest | CPU per request (ms, median; "
        "off: of every pair) "
        "| c=1 p50 (ms) | c=1 p99 (ms) |",
        "|---|---|---|---|---|---|",
        f"| off | - | - | {statistics.median(off_cpu):.3f} | {c1('off', 'p50_ms'):.2f} | {c1('off', 'p99_ms'):.2f} |",
        *(
            f"| {LABELS[name]} | {median_added[name]:+.1f} % | {', '.join(f'{v:+.0f}' for v in sorted(added[name]))} "
            f"| {cpu(name):.3f} | {c1(name, 'p50_ms'):.2f} | {c1(name, 'p99_ms'):.2f} |"
            for name in COMPARED
        ),
        "",
        f"CPU per request added by tracing at 10 % sampling: {ten:+.1f} % (aim <= {AIM_PERCENT:.0f} %): {verdict}. "
        f"Two untraced gateways measured the same way differ by {statistics.median(noise):+.1f} % "
        f"({min(noise):+.0f} to {max(noise):+.0f} %). With nothing sampled: {median_added['on-0']:+.1f} %; "
        f"with every library instrumentation on: "
        f"{median_added['on-10-libraries']:+.1f} %; with every request sampled: {median_added['on-100']:+.1f} %. "
        f"Spans exported: {sink.requests} OTLP requests, {sink.bytes / 1e6:.1f} MB.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    (bench.RESULTS / "tracing.md").write_text(text)
    (bench.RESULTS / "tracing.json").write_text(
        json.dumps(
            {
                "quick": QUICK,
                "rounds": ROUNDS,
                "pair_concurrency": PAIR_CONCURRENCY,
                "seconds": DURATION,
                "results": results,
                "cpu_added_percent": median_added,
                "cpu_added_percent_by_round": added,
                "aim_percent": AIM_PERCENT,
                "pass": verdict == "PASS",
            },
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
