"""Start the whole embedded system for development and stop all of it on Ctrl-C.

Processes: the Pollinations simulator (upstream), the gateway (ASGI, port 8000) and the job
worker. Each runs in its own process group so one Ctrl-C (or SIGTERM) stops every one of them,
and if any of them exits the others are stopped too rather than left half-running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mcp_site.config import simulator_port

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
GATEWAY_PORT = int(os.environ.get("PORT", "8000"))
# The gateway reads the same variable (mcp_site.config) for its default upstream URLs.
SIMULATOR_PORT = simulator_port(os.environ)


def _commands() -> dict[str, list[str]]:
    commands = {
        "gateway": [
            PY, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", str(GATEWAY_PORT),
            "--workers", "1", "--loop", "uvloop", "mcp_site.asgi:application",
        ],
        # A short poll keeps enqueue → running well under 50 ms (bench/jobs.py); an idle poll is one indexed query.
        "worker": [PY, "manage.py", "db_worker", "--interval", "0.1"],
    }  # fmt: skip
    if os.environ.get("MCP_UPSTREAM", "simulator") == "simulator":
        commands = {
            "simulator": [PY, "-m", "simulator", "--host", "127.0.0.1", "--port", str(SIMULATOR_PORT)]
        } | commands
    return commands


def _stop(processes: dict[str, subprocess.Popen]) -> None:
    for proc in processes.values():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for proc in processes.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def main() -> int:
    processes: dict[str, subprocess.Popen] = {}
    if os.environ.get("MCP_UPSTREAM", "simulator") == "simulator":
        # Pass the simulator's fault header through: `make smoke` paces its streamed check with it.
        os.environ.setdefault("MCP_FORWARD_HEADERS", "traceparent,tracestate,x-sim-fault")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    try:
        for name, command in _commands().items():
            processes[name] = subprocess.Popen(command, cwd=ROOT, start_new_session=True)
            print(f"[run] started {name} (pid {processes[name].pid})", flush=True)
        base = f"http://127.0.0.1:{GATEWAY_PORT}"
        print(
            f"\n[run] MCP Gateway      {base}/\n"
            f"[run] admin            {base}/admin/\n"
            f"[run] API docs         {base}/api/docs/\n"
            f"[run] readiness        {base}/readyz\n"
            f"[run] simulator        http://127.0.0.1:{SIMULATOR_PORT}/\n"
            f"[run] sign-in details  var/dev-credentials.txt (written by manage.py dev_bootstrap)\n"
            "[run] Ctrl-C stops everything.\n",
            flush=True,
        )
        while True:
            for name, proc in processes.items():
                if proc.poll() is not None:
                    print(f"[run] {name} exited with {proc.returncode}; stopping the rest", flush=True)
                    return proc.returncode or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\n[run] stopping…", flush=True)
        return 0
    finally:
        _stop(processes)


if __name__ == "__main__":
    sys.exit(main())
