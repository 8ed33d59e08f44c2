"""Gateway overhead benchmark: MCP Gateway vs LiteLLM vs calling the upstream directly, in one run.

Same machine, same upstream (the project's simulator), same load tool (wrk) and request mix, one
worker each. Our gateway runs with production settings (``DJANGO_ENV=production``) and does real
work: a real API key resolved (PostgreSQL behind a Redis and an in-process cache), limits, credits
and the ledger on, JSON access logs, metrics, usage recording. Prints one table of ratios with
pass/fail per target (issue #19's), then where the gateway's time went during the latency run (its
own phase, garbage-collection and event-loop histograms, read from ``/metrics``), and writes
``bench/results/gateway.json`` and ``bench/results/gateway.md``.

    python bench/gateway.py            # full run (~8 minutes)
    QUICK=1 python bench/gateway.py    # smoke run (~1.5 minutes)

Needs PostgreSQL and Redis (``DATABASE_URL``/``REDIS_URL``, defaulting to the CI ones) and wrk.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _procs import ROOT, background, cpu_seconds, rss_mb, started

sys.path.insert(0, str(ROOT))
from scripts.local_processes import gateway_command

QUICK = os.environ.get("QUICK") == "1"
DURATION = 4 if QUICK else 15
WARMUP = 2 if QUICK else 4
ROUNDS = 1 if QUICK else 2
#: Streams timed per server: a p99 of 200 is the second slowest alone, of 1,000 the tenth.
TTFB_N = 40 if QUICK else 1_000
MEMORY_REQUESTS = (2_000, 10_000) if QUICK else (20_000, 100_000)
LITELLM_VERSION = (
    "1.106.12"  # newest that installs from the index here (1.108.14+/1.109+: litellm-proxy-extras missing)
)
SIM_KEY = "sk_simulatorsimulatorsimulator12345"  # pragma: allowlist secret
LITELLM_KEY = "sk-bench-master-key-1234"  # pragma: allowlist secret
PORTS = {"sim": 9201, "mcp": 9202, "litellm": 9203, "mcp2": 9204, "other_server": 9205}
RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "var" / "bench"
BODY = {
    "model": "openai",
    "messages": [{"role": "user", "content": "Say hello in one short sentence."}],
    "max_tokens": 16,
}
PY = sys.executable
#: Direct-to-simulator throughput (c=32) on the machine the absolute targets were set on: a run
#: reports its own machine's speed against it, since only same-run ratios compare across machines.
REFERENCE_DIRECT_RPS = 12_775


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def litellm_python() -> str:
    venv = WORK / "litellm-venv"
    python = venv / "bin" / "python"
    marker = venv / f".litellm-{LITELLM_VERSION}"
    if not marker.exists():
        log(f"installing litellm[proxy]=={LITELLM_VERSION} into {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"litellm[proxy]=={LITELLM_VERSION}"], check=True)
        marker.touch()
    return str(python)


def gateway_python(*extra: str) -> str:
    """A virtualenv with the production requirements only (requirements.txt), as the container image has:
    the worker's memory is measured without the development tools (some of which other libraries
    import when present).

    :param extra: more packages, pinned by constraints.txt, in a virtualenv of their own (the server
        the gateway is compared on), so the two servers run the same versions of everything else.
    """
    venv = WORK / "-".join(["gateway", *extra, "venv"])
    python = venv / "bin" / "python"
    stamp = (
        (ROOT / "requirements.txt").read_bytes() + (ROOT / "constraints.txt").read_bytes() + " ".join(extra).encode()
    )
    marker = venv / f".requirements-{hashlib.sha256(stamp).hexdigest()[:16]}"
    if not marker.exists():
        log(f"installing the production requirements{''.join(f' + {e}' for e in extra)} into {venv}")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        requirements = ["-r", str(ROOT / "requirements.txt"), *extra, "-c", str(ROOT / "constraints.txt")]
        subprocess.run([*pip, *requirements], check=True)
        marker.touch()
    return str(python)


def ensure_wrk() -> None:
    if shutil.which("wrk") is None:
        log("installing wrk from Debian's packages")
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)


def simulator_started() -> contextlib.AbstractContextManager[int]:
    """The simulator upstream on its port, as every phase of the benchmark uses it; yields its pid."""
    command = [PY, "-m", "simulator", "--host", "127.0.0.1", "--port", str(PORTS["sim"])]
    sim = f"http://127.0.0.1:{PORTS['sim']}"
    return started("simulator", command, env=dict(os.environ), health_url=f"{sim}/_sim/health", log_dir=WORK)


def prepare_database(env: dict[str, str]) -> str:
    """Migrate the benchmark database and create an organisation and a key; returns the raw key."""
    manage = [PY, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [*manage, "create_organization", "--slug", "bench", "--if-missing"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    out = subprocess.run(
        [
            *manage,
            "create_api_key",
            "--org",
            "bench",
            "--name",
            f"bench-{int(time.time())}",
            "--scopes",
            "text,image,audio",
            "--json",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)["key"]


@functools.cache
def body_file() -> Path:
    """The request body wrk sends, written once (wrk runs may overlap: bench/tracing.py measures pairs)."""
    path = WORK / "body.json"
    path.write_text(json.dumps(BODY))
    return path


def wrk(url: str, *, key: str, conc: int, seconds: float) -> dict[str, float]:
    seconds = max(1, round(seconds))  # wrk takes whole seconds
    env = {**os.environ, "BODY_FILE": str(body_file()), "AUTH_KEY": key}
    out = subprocess.run(
        ["wrk", "-t1", f"-c{conc}", f"-d{seconds}s", "--latency", "-s", str(ROOT / "bench" / "post.lua"), url],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT"))
    return {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", line)}


def measured(url: str, pid: int, *, key: str, conc: int, seconds: float) -> dict[str, float]:
    """A wrk run after a warm-up, with the CPU per request of the server process ``pid``."""
    wrk(url, key=key, conc=conc, seconds=WARMUP)
    return loaded(url, pid, key=key, conc=conc, seconds=seconds)


def loaded(url: str, pid: int, *, key: str, conc: int, seconds: float) -> dict[str, float]:
    """One wrk run, with the CPU per request the server process ``pid`` spent over it."""
    cpu0 = cpu_seconds(pid)
    result = wrk(url, key=key, conc=conc, seconds=seconds)
    result["cpu_ms_per_request"] = (cpu_seconds(pid) - cpu0) * 1000 / max(1, result["requests"])
    return result


def ttfb(url: str, key: str, n: int, fault: str = "") -> list[float]:
    headers = {"Authorization": f"Bearer {key}"}
    if fault:
        headers["X-Sim-Fault"] = fault
    firsts = []
    with httpx.Client(timeout=30) as client:
        for i in range(n + 5):
            t0 = time.perf_counter()
            with client.stream("POST", url, json={**BODY, "stream": True}, headers=headers) as response:
                first = None
                for chunk in response.iter_raw():
                    if chunk and first is None:
                        first = time.perf_counter()
            if i >= 5 and response.status_code == 200 and first is not None:
                firsts.append((first - t0) * 1000)
    return sorted(firsts)


def chunk_drifts(targets: dict[str, tuple[str, str]], interval_ms: int = 50, n: int = 5) -> dict[str, list[float]]:
    """Mean drift (ms) of each chunk's arrival from the upstream's fixed pace, by chunk index, per target.

    The upstream's own timer overshoot accumulates along a stream, and grows with whatever else
    the machine is doing then, so a gateway is judged by the difference between its drift and the
    direct drift at the same index, their streams taken in turn.
    """
    runs: dict[str, list[list[float]]] = {name: [] for name in targets}
    with httpx.Client(timeout=60) as client:
        for _ in range(n):
            for name, (url, key) in targets.items():
                headers = {"Authorization": f"Bearer {key}", "X-Sim-Fault": f"stream-interval={interval_ms}ms"}
                arrivals = []
                with client.stream("POST", url, json={**BODY, "stream": True}, headers=headers) as response:
                    buffer = b""
                    for chunk in response.iter_raw():
                        buffer += chunk
                        while b"\n\n" in buffer:
                            _, buffer = buffer.split(b"\n\n", 1)
                            arrivals.append(time.perf_counter())
                runs[name].append([(t - arrivals[0]) * 1000 - i * interval_ms for i, t in enumerate(arrivals[:-1])])
    length = min(len(run) for by_target in runs.values() for run in by_target)
    return {name: [sum(run[i] for run in by_target) / n for i in range(length)] for name, by_target in runs.items()}


#: Histograms of the gateway's own (core/diagnostics.py): (metric, label or None) -> row name.
DIAGNOSTICS = {
    **{
        ("mcp_hot_path_phase_seconds", ("phase", p)): f"phase: {p}"
        for p in ("key", "admission", "upstream", "relay", "settlement", "log")
    },
    **{("mcp_gc_pause_seconds", ("generation", g)): f"GC pause, generation {g}" for g in ("0", "1", "2")},
    ("mcp_event_loop_lag_seconds", None): "event-loop lag (100 ms probe)",
}


def scrape(url: str) -> dict[tuple, float]:
    """Bucket counts of the diagnostics histograms: {(metric, label or None, le): cumulative count}."""
    found: dict[tuple, float] = {}
    for line in httpx.get(url, timeout=10).text.splitlines():
        match = re.match(r"^(\w+)_bucket\{(.*)\} ([\d.e+]+)$", line)
        if not match:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match[2]))
        le = labels.pop("le")
        label = next(iter(labels.items()), None)
        if (match[1], label) in DIAGNOSTICS:
            found[(match[1], label, float(le))] = float(match[3])
    return found


def where_time_went(before: dict[tuple, float], after: dict[tuple, float]) -> dict[str, dict[str, float]]:
    """Count, p50 and p99 (ms, interpolated within buckets) of each diagnostics histogram between two scrapes."""
    rows = {}
    for (metric, label), name in DIAGNOSTICS.items():
        bounds = sorted(le for (m, lab, le) in after if (m, lab) == (metric, label))
        counts = [after[(metric, label, le)] - before.get((metric, label, le), 0.0) for le in bounds]
        total = counts[-1] if counts else 0.0
        p50, p99 = _quantile(bounds, counts, 0.5), _quantile(bounds, counts, 0.99)
        rows[name] = {"count": total, "p50_ms": p50, "p99_ms": p99}
    return rows


def _quantile(bounds: list[float], cumulative: list[float], q: float) -> float:
    if not cumulative or not cumulative[-1]:
        return 0.0
    rank, lower, below = q * cumulative[-1], 0.0, 0.0
    for le, count in zip(bounds, cumulative, strict=True):
        if count >= rank:
            if le == float("inf"):
                return lower * 1000
            return (lower + (le - lower) * (rank - below) / max(count - below, 1e-9)) * 1000
        lower, below = le, count
    return lower * 1000


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, round(p / 100 * len(values) + 0.5) - 1)] if values else float("nan")


async def _big_downloads(url: str, key: str, count: int) -> int:
    async with httpx.AsyncClient(timeout=120, headers={"Authorization": f"Bearer {key}"}) as client:

        async def one() -> int:
            size = 0
            async with client.stream("GET", url) as response:
                async for chunk in response.aiter_raw():
                    size += len(chunk)
                    await asyncio.sleep(0.002)  # a slow reader: the gateway must not buffer ahead of it
            return size

        return sum(await asyncio.gather(*(one() for _ in range(count))))


def download_rss_growth(base: str, pid: int, key: str) -> tuple[float, int]:
    url = f"{base}/image/big?width=64&height=64&model=flux&sim_fault=size%3D8mb"
    baseline, peak = rss_mb(pid), [0.0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mb(pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    total = asyncio.run(_big_downloads(url, key, 32))
    stop.set()
    sampler.join()
    return peak[0] - baseline, total


def main() -> int:
    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    ensure_wrk()
    litellm = litellm_python()
    gateway_py = gateway_python()
    db_env = {
        **os.environ,
        "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    }
    sim = f"http://127.0.0.1:{PORTS['sim']}"
    gw_env = {
        **db_env,
        "POLLINATIONS_GEN_URL": sim,
        "POLLINATIONS_IMAGE_URL": f"{sim}/legacy/image",
        "POLLINATIONS_TEXT_URL": f"{sim}/legacy/text",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "MCP_FORWARD_HEADERS": "x-sim-fault",
        # As deployed (k8s/base): the ledger writer runs beside the job worker, not in the web process.
        "BILLING_LEDGER_FLUSHER": "worker",
        # Production settings, as deployed: no DEBUG (Django records every query under DEBUG).
        "DJANGO_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    key = prepare_database(gw_env)
    (WORK / "litellm.yaml").write_text(LITELLM_CONFIG.format(upstream=sim))
    ll_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    ll_env |= {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "SIM_KEY": SIM_KEY, "LITELLM_MASTER_KEY": LITELLM_KEY}
    targets = {
        "direct": (f"{sim}/v1/chat/completions", SIM_KEY),
        "mcp": (f"http://127.0.0.1:{PORTS['mcp']}/v1/chat/completions", key),
        "litellm": (f"http://127.0.0.1:{PORTS['litellm']}/v1/chat/completions", LITELLM_KEY),
    }
    results: dict[str, dict] = {name: {} for name in targets}
    with (
        simulator_started() as sim_pid,
        started(
            "mcp",
            gateway_command(PORTS["mcp"], "--log-level", "warning", python=gateway_py),
            env=gw_env,
            health_url=f"http://127.0.0.1:{PORTS['mcp']}/healthz",
            log_dir=WORK,
        ) as mcp_pid,
        started(
            "litellm",
            [
                str(Path(litellm).parent / "litellm"),
                "--config",
                str(WORK / "litellm.yaml"),
                "--host",
                "127.0.0.1",
                "--port",
                str(PORTS["litellm"]),
                "--num_workers",
                "1",
            ],
            env=ll_env,
            health_url=f"http://127.0.0.1:{PORTS['litellm']}/health/liveliness",
            log_dir=WORK,
        ) as ll_pid,
        background("ledger", [PY, "manage.py", "billing_flush_ledger"], env=gw_env, log_dir=WORK),
    ):
        pids = {"direct": sim_pid, "mcp": mcp_pid, "litellm": ll_pid}
        for name, (url, k) in targets.items():
            response = httpx.post(url, json=BODY, headers={"Authorization": f"Bearer {k}"}, timeout=30)
            assert response.status_code == 200 and "chat.completion" in response.text, (name, response.text[:300])
        for round_ in range(ROUNDS):
            order = list(targets) if round_ % 2 == 0 else list(reversed(targets))
            for name in order:
                url, k = targets[name]
                log(f"throughput c=32 {name} round {round_ + 1}")
                result = measured(url, pids[name], key=k, conc=32, seconds=DURATION)
                results[name].setdefault("c32", []).append(result)
        for name, (url, k) in targets.items():
            log(f"latency c=1 {name}")
            before = scrape(f"http://127.0.0.1:{PORTS['mcp']}/metrics") if name == "mcp" else {}
            results[name]["c1"] = measured(url, pids[name], key=k, conc=1, seconds=DURATION)
            if name == "mcp":
                results["mcp"]["where"] = where_time_went(before, scrape(f"http://127.0.0.1:{PORTS['mcp']}/metrics"))
            log(f"ttfb {name}")
            results[name]["ttfb"] = ttfb(url, k, TTFB_N)
        log("chunk pacing at 50 ms (direct and mcp)")
        drifts = chunk_drifts({name: targets[name] for name in ("direct", "mcp")})
        results["direct"]["drift"], results["mcp"]["drift"] = drifts["direct"], drifts["mcp"]
        log("memory: long run")
        rps = max(r["rps"] for r in results["mcp"]["c32"])
        wrk(targets["mcp"][0], key=key, conc=32, seconds=max(1, MEMORY_REQUESTS[0] / rps))
        rss_early = rss_mb(mcp_pid)
        wrk(targets["mcp"][0], key=key, conc=32, seconds=max(1, (MEMORY_REQUESTS[1] - MEMORY_REQUESTS[0]) / rps))
        rss_late = rss_mb(mcp_pid)
        log("memory: 32 concurrent 8 MB downloads")
        growth, downloaded = download_rss_growth(f"http://127.0.0.1:{PORTS['mcp']}", mcp_pid, key)
        results["mcp"]["memory"] = {
            "rss_after_20k_mb": rss_early,
            "rss_after_100k_mb": rss_late,
            "download_rss_growth_mb": growth,
            "downloaded_bytes": downloaded,
        }
        results["litellm"]["rss_mb"] = rss_mb(ll_pid)
        log("the same gateway under granian (uvloop), to confirm the server choice")
        granian = [
            gateway_python("granian"),  # the production virtualenv, plus the other server
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(PORTS["other_server"]),
            "--workers",
            "1",
            "--loop",
            "uvloop",
            "--log-level",
            "warning",
            "mcp_site.asgi:application",
        ]
        with started(
            "granian",
            granian,
            env=gw_env,
            health_url=f"http://127.0.0.1:{PORTS['other_server']}/healthz",
            log_dir=WORK,
        ) as other_pid:
            url = f"http://127.0.0.1:{PORTS['other_server']}/v1/chat/completions"
            results["mcp"]["other_c32"] = measured(url, other_pid, key=key, conc=32, seconds=DURATION)
            # The c=1 tail too: granian hands each request and response between its Rust I/O threads
            # and Python's, uvicorn serves both on the event loop's thread.
            results["mcp"]["other_c1"] = measured(url, other_pid, key=key, conc=1, seconds=DURATION)
    log("two workers (reported, no target)")
    with (
        started(
            "mcp2",
            gateway_command(PORTS["mcp2"], "--log-level", "warning", workers=2, python=gateway_py),
            env=gw_env,
            health_url=f"http://127.0.0.1:{PORTS['mcp2']}/healthz",
            log_dir=WORK,
        ),
        simulator_started(),
    ):
        url = f"http://127.0.0.1:{PORTS['mcp2']}/v1/chat/completions"
        wrk(url, key=key, conc=64, seconds=WARMUP)
        results["mcp"]["two_workers_rps"] = wrk(url, key=key, conc=64, seconds=DURATION)["rps"]
    return report(results)


LITELLM_CONFIG = """model_list:
  - model_name: openai
    litellm_params:
      model: openai/openai
      api_base: {upstream}/v1
      api_key: os.environ/SIM_KEY
litellm_settings:
  telemetry: false
  set_verbose: false
  drop_params: true
  callbacks: []
  success_callback: []
  failure_callback: []
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
  disable_spend_logs: true
  disable_error_logs: true
  store_model_in_db: false
  allow_requests_on_db_unavailable: true
"""


def _best(runs: list[dict], field: str) -> float:
    return sorted(r[field] for r in runs)[len(runs) // 2]


def _fraction_row(name: str, ours: float, theirs: float, fraction: int) -> tuple:
    """A row whose target is "at most 1/fraction of LiteLLM's" (added latencies)."""
    ratio = theirs / max(ours, 0.01)
    return (name, "-", f"{ours:.2f}", f"{theirs:.2f}", ratio, f"<= 1/{fraction}", ours * fraction <= theirs)


def _other_server_rows(m: dict, direct_c1: dict, rps: float, cpu: float, added: dict[str, float]) -> list[tuple]:
    """The same gateway under granian, each figure with its ratio to the gateway's own (uvicorn)."""
    other_added = {q: m["other_c1"][f"{q}_ms"] - direct_c1[f"{q}_ms"] for q in ("p50", "p99")}
    figures = [
        ("c=32 (req/s)", m["other_c32"]["rps"], rps, "{:.0f}"),
        ("CPU per request (ms)", m["other_c32"]["cpu_ms_per_request"], cpu, "{:.3f}"),
        *((f"added latency c=1 {q} (ms)", other_added[q], max(added[q], 0.01), "{:.2f}") for q in ("p50", "p99")),
    ]
    return [
        (
            f"same gateway on granian, {name}",
            "-",
            form.format(theirs),
            "-",
            theirs / ours,
            "reported (ratio to uvicorn)",
            True,
        )
        for name, theirs, ours, form in figures
    ]


def report(results: dict[str, dict]) -> int:
    d, m, ll = results["direct"], results["mcp"], results["litellm"]
    rps = {name: _best(r["c32"], "rps") for name, r in results.items()}
    cpu = {name: _best(r["c32"], "cpu_ms_per_request") for name, r in results.items()}
    added = {
        name: {p: r["c1"][f"{p}_ms"] - d["c1"][f"{p}_ms"] for p in ("p50", "p99")}
        for name, r in (("mcp", m), ("litellm", ll))
    }
    ttfb_added = {name: pct(results[name]["ttfb"], 50) - pct(d["ttfb"], 50) for name in ("mcp", "litellm")}
    ttfb_added99 = {name: pct(results[name]["ttfb"], 99) - pct(d["ttfb"], 99) for name in ("mcp", "litellm")}
    speed = rps["direct"] / REFERENCE_DIRECT_RPS
    lateness = sorted(ours - direct for ours, direct in zip(m["drift"], d["drift"], strict=False))
    late = pct(lateness, 99)
    mem = m["memory"]
    growth_pct = (mem["rss_after_100k_mb"] - mem["rss_after_20k_mb"]) / mem["rss_after_20k_mb"] * 100
    rows = [
        (
            "throughput c=32 (req/s)",
            f"{rps['direct']:.0f}",
            f"{rps['mcp']:.0f}",
            f"{rps['litellm']:.0f}",
            rps["mcp"] / rps["litellm"],
            ">= 15x",
            rps["mcp"] / rps["litellm"] >= 15,
        ),
        (
            "CPU per request (ms)",
            f"{cpu['direct']:.3f}",
            f"{cpu['mcp']:.3f}",
            f"{cpu['litellm']:.3f}",
            cpu["litellm"] / cpu["mcp"],
            "<= 1/15 of LiteLLM",
            cpu["litellm"] / cpu["mcp"] >= 15,
        ),
        (
            "CPU per request, absolute (ms)",
            "-",
            f"{cpu['mcp']:.3f}",
            "-",
            cpu["mcp"],
            "<= 0.6 ms (at reference speed)",
            cpu["mcp"] * speed <= 0.6,
        ),
        _fraction_row("added latency c=1 p50 (ms)", added["mcp"]["p50"], added["litellm"]["p50"], 4),
        _fraction_row("added latency c=1 p99 (ms)", added["mcp"]["p99"], added["litellm"]["p99"], 8),
        (
            "added latency c=1 p99, absolute (ms)",
            "-",
            f"{added['mcp']['p99']:.2f}",
            "-",
            added["mcp"]["p99"],
            "<= 2 ms (at reference speed)",
            added["mcp"]["p99"] * speed <= 2,
        ),
        _fraction_row("stream TTFB added p50 (ms)", ttfb_added["mcp"], ttfb_added["litellm"], 4),
        _fraction_row("stream TTFB added p99 (ms)", ttfb_added99["mcp"], ttfb_added99["litellm"], 8),
        (
            "chunk delay vs direct at 50 ms pace, p99 (ms)",
            f"{pct(sorted(d['drift']), 99):.2f}",
            f"{pct(sorted(m['drift']), 99):.2f}",
            "-",
            late,
            "<= 5 ms",
            late <= 5,
        ),
        (
            "worker RSS after run (MB)",
            "-",
            f"{mem['rss_after_100k_mb']:.0f}",
            f"{ll['rss_mb']:.0f}",
            ll["rss_mb"] / mem["rss_after_100k_mb"],
            "<= 120 MB",
            mem["rss_after_100k_mb"] <= 120,
        ),
        (
            f"RSS growth {MEMORY_REQUESTS[0]:,} -> {MEMORY_REQUESTS[1]:,} req (%)",
            "-",
            f"{growth_pct:.1f}",
            "-",
            growth_pct,
            "< 5 %",
            growth_pct < 5,
        ),
        (
            "RSS growth, 32 x 8 MB downloads (MB)",
            "-",
            f"{mem['download_rss_growth_mb']:.1f}",
            "-",
            mem["download_rss_growth_mb"],
            "< 64 MB",
            mem["download_rss_growth_mb"] < 64 and mem["downloaded_bytes"] >= 32 * 8 * 2**20,
        ),
        (
            "machine speed: direct c=32 vs the reference machine",
            f"{rps['direct']:.0f}",
            "-",
            "-",
            speed,
            f"reported (reference {REFERENCE_DIRECT_RPS:,} req/s)",
            True,
        ),
        ("throughput, 2 workers c=64 (req/s)", "-", f"{m['two_workers_rps']:.0f}", "-", 0.0, "reported", True),
        *_other_server_rows(m, d["c1"], rps["mcp"], cpu["mcp"], added["mcp"]),
    ]
    lines = [
        f"MCP Gateway vs LiteLLM {LITELLM_VERSION}, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
        f"{os.cpu_count()} CPUs{' (QUICK)' if QUICK else ''}",
        "",
        "| metric | direct | mcp | litellm | ratio | target | pass |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, direct, ours, theirs, ratio, target, ok in rows:
        lines.append(f"| {name} | {direct} | {ours} | {theirs} | {ratio:.1f} | {target} | {'PASS' if ok else 'FAIL'} |")
    lines += [
        "",
        "Where the gateway's time went during its c=1 run (its own histograms, /metrics):",
        "",
        "| histogram | count | p50 (ms) | p99 (ms) |",
        "|---|---|---|---|",
    ]
    for name, row in m.get("where", {}).items():
        lines.append(f"| {name} | {row['count']:.0f} | {row['p50_ms']:.3f} | {row['p99_ms']:.3f} |")
    table = "\n".join(lines)
    print(table)
    (RESULTS / "gateway.md").write_text(table + "\n")
    document = json.dumps({"quick": QUICK, "results": results}, indent=1, default=str)
    (RESULTS / "gateway.json").write_text(document + "\n")
    return 0 if all(row[-1] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
