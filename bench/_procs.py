"""Process helpers for the benchmarks: start, wait, measure CPU and memory from /proc, stop."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


@contextmanager
def started(name: str, command: list[str], *, env: dict[str, str], health_url: str, log_dir: Path) -> Iterator[int]:
    """Start a server in its own process group, wait until ``health_url`` answers, yield the worker pid."""
    log = (log_dir / f"{name}.log").open("w")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {log.name}")
            try:
                if httpx.get(health_url, timeout=1).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not become healthy at {health_url}")
            time.sleep(0.2)
        yield worker_pid(process.pid)
    finally:
        _stop(process)
        log.close()


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def worker_pid(pid: int) -> int:
    """The process doing the work: the only child if there is exactly one, else the process itself."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return int(children[0]) if len(children) == 1 else pid


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def background(name: str, command: list[str], *, env: dict[str, str], log_dir: Path) -> Iterator[int]:
    """Run a helper process that serves no HTTP (e.g. the ledger writer) for the duration of a block."""
    log = (log_dir / f"{name}.log").open("w")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process.pid
    finally:
        _stop(process)
        log.close()
