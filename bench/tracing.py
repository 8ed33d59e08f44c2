"""What tracing costs on the hot path: the same gateway with tracing off, and on at 10 % sampling.

Four configurations of one gateway (granian, one worker, the simulator upstream, PostgreSQL and
Redis as in ``bench/gateway.py``), measured back to back in alternating rounds with wrk at
concurrency 32 and 1:

* ``off``  — no ``OTEL_*`` variable: what the hot path costs without tracing;
* ``on-10`` — ``OTEL_TRACES_SAMPLER=parentbased_traceidratio``, ``OTEL_TRACES_SAMPLER_ARG=0.1``,
  spans exported over OTLP/HTTP to a local receiver (this process) that accepts and drops them,
  the default instrumentations (the aiohttp client and Redis ones off);
* ``on-10-libraries`` — the same with ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=`` (empty) turning
  every library instrumentation on;
* ``on-100`` — every request sampled and exported (for reference).

Writes ``bench/results/tracing.json`` and ``bench/results/tracing.md``.

    python bench/tracing.py           # ~9 minutes
    QUICK=1 python bench/tracing.py   # ~1 minute
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import statistics
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _procs import ROOT, started

_spec = importlib.util.spec_from_file_location("bench_gateway", Path(__file__).with_name("gateway.py"))
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

QUICK = os.environ.get("QUICK") == "1"
DURATION = 4 if QUICK else 12
ROUNDS = 1 if QUICK else 5
PORTS = {"sim": 9211, "off": 9212, "on-10": 9213, "on-10-libraries": 9215, "on-100": 9214}
_TEN = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}
CONFIGS = {
    "off": {},
    "on-10": _TEN,
    # Every library instrumentation on, the aiohttp client and Redis ones included.
    "on-10-libraries": {**_TEN, "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": ""},
    "on-100": {"OTEL_TRACES_SAMPLER": "parentbased_always_on"},
}


class Sink:
    """An OTLP/HTTP receiver that accepts and drops what it is sent, counting the bytes."""

    def __init__(self) -> None:
        self.requests = self.bytes = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                sink.bytes += len(self.rfile.read(int(self.headers.get("content-length", 0))))
                sink.requests += 1
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def main() -> int:
    bench.WORK.mkdir(parents=True, exist_ok=True)
    bench.RESULTS.mkdir(parents=True, exist_ok=True)
    bench.ensure_wrk()
    sink = Sink()
    sim = f"http://127.0.0.1:{PORTS['sim']}"
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
    results: dict[str, dict[str, list]] = {name: {"c32": [], "c1": []} for name in CONFIGS}
    servers = []
    with started(
        "simulator",
        [bench.PY, "-m", "simulator", "--host", "127.0.0.1", "--port", str(PORTS["sim"])],
        env=dict(os.environ),
        health_url=f"{sim}/_sim/health",
        log_dir=bench.WORK,
    ):
        pids = {}
        for name, extra in CONFIGS.items():
            env = {**base_env, **extra, **({"OTEL_EXPORTER_OTLP_ENDPOINT": sink.url} if extra else {})}
            server = started(
                name,
                bench.gateway_command(PORTS[name], "--log-level", "warning", python=bench.PY),
                env=env,
                health_url=f"http://127.0.0.1:{PORTS[name]}/healthz",
                log_dir=bench.WORK,
            )
            pids[name] = server.__enter__()
            servers.append(server)
        try:
            with bench.background(
                "ledger", [bench.PY, "manage.py", "billing_flush_ledger"], env=base_env, log_dir=bench.WORK
            ):
                for name in CONFIGS:
                    url = f"http://127.0.0.1:{PORTS[name]}/v1/chat/completions"
                    response = httpx.post(url, json=bench.BODY, headers={"Authorization": f"Bearer {key}"}, timeout=30)
                    assert response.status_code == 200, (name, response.text[:300])
                for round_ in range(ROUNDS):
                    order = list(CONFIGS) if round_ % 2 == 0 else list(reversed(CONFIGS))
                    for name in order:
                        url = f"http://127.0.0.1:{PORTS[name]}/v1/chat/completions"
                        bench.log(f"tracing {name}: round {round_ + 1}")
                        results[name]["c32"].append(bench.measured(url, pids[name], key=key, conc=32, seconds=DURATION))
                        results[name]["c1"].append(
                            bench.measured(url, pids[name], key=key, conc=1, seconds=DURATION / 2)
                        )
        finally:
            for server in reversed(servers):
                server.__exit__(None, None, None)
    return report(results, sink)


def report(results: dict[str, dict[str, list]], sink: Sink) -> int:
    def med(name: str, conc: str, field: str) -> float:
        return statistics.median(run[field] for run in results[name][conc])

    cpu = {name: med(name, "c32", "cpu_ms_per_request") for name in results}
    rows = [
        ("CPU per request, c=32 (ms)", {n: cpu[n] for n in results}),
        ("throughput c=32 (req/s)", {n: med(n, "c32", "rps") for n in results}),
        ("latency c=1 p50 (ms)", {n: med(n, "c1", "p50_ms") for n in results}),
        ("latency c=1 p99 (ms)", {n: med(n, "c1", "p99_ms") for n in results}),
    ]
    added_10 = (cpu["on-10"] / cpu["off"] - 1) * 100
    added_100 = (cpu["on-100"] / cpu["off"] - 1) * 100
    added_libraries = (cpu["on-10-libraries"] / cpu["off"] - 1) * 100
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Tracing cost, {now}, {os.cpu_count()} CPUs, {ROUNDS} alternating rounds (medians)",
        "",
        "| metric | off | on, 10 % sampled | on, 10 %, every library instrumented | on, all sampled |",
        "|---|---|---|---|---|",
        *(
            f"| {label} | {v['off']:.3f} | {v['on-10']:.3f} | {v['on-10-libraries']:.3f} | {v['on-100']:.3f} |"
            for label, v in rows
        ),
        "",
        f"CPU per request added by tracing at 10 % sampling: {added_10:+.1f} % (aim <= 10 %); "
        f"with every library instrumentation on: {added_libraries:+.1f} %; with every request sampled: "
        f"{added_100:+.1f} %. Machine load average at the end: {os.getloadavg()[0]:.1f}. Spans exported: "
        f"{sink.requests} OTLP requests, "
        f"{sink.bytes / 1e6:.1f} MB.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    (bench.RESULTS / "tracing.md").write_text(text)
    (bench.RESULTS / "tracing.json").write_text(
        json.dumps(
            {
                "quick": QUICK,
                "rounds": ROUNDS,
                "results": results,
                "cpu_added_percent": {"on-10": added_10, "on-10-libraries": added_libraries, "on-100": added_100},
            },
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
