"""CPU self-check: simulator CPU per non-streaming chat completion.

Starts ``python -m simulator`` on a free port, sends N sequential keep-alive chat requests,
and prints the CPU time (user + system, read from ``/proc``) the simulator's process tree
spent per request. Linux only. Usage: ``python -m simulator.bench_self [--requests 2000]``.
"""

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import time

from simulator.auth import DEFAULT_SECRET_KEY

BODY = json.dumps({"model": "openai", "messages": [{"role": "user", "content": "Say hello"}]})
HEADERS = {"Authorization": f"Bearer {DEFAULT_SECRET_KEY}", "Content-Type": "application/json"}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its direct children (a server may run its worker as a child)."""
    ticks = os.sysconf("SC_CLK_TCK")
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            children = [int(c) for c in handle.read().split()]
    except OSError:
        children = []
    total = 0
    for process in (pid, *children):
        with open(f"/proc/{process}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def _free_port() -> int:
    """A loopback port nobody is listening on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(port: int) -> None:
    """Poll ``/_sim/health`` until the simulator answers."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/_sim/health")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("simulator did not become healthy")


def main() -> None:
    """Run the measurement and print CPU milliseconds per request."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    port = _free_port()
    command = [sys.executable, "-m", "simulator", "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)  # noqa: S603 (our own module)
    try:
        _wait_healthy(port)
        connection = http.client.HTTPConnection("127.0.0.1", port)
        for _ in range(50):  # warm up
            connection.request("POST", "/v1/chat/completions", BODY, HEADERS)
            connection.getresponse().read()
        before = _cpu_seconds(process.pid)
        started = time.perf_counter()
        for _ in range(args.requests):
            connection.request("POST", "/v1/chat/completions", BODY, HEADERS)
            connection.getresponse().read()
        elapsed = time.perf_counter() - started
        cpu = _cpu_seconds(process.pid) - before
        print(f"{args.requests} requests in {elapsed:.2f}s; simulator CPU {cpu * 1000 / args.requests:.3f} ms/request")
    finally:
        process.terminate()
        process.wait(10)


if __name__ == "__main__":
    main()
