"""Start the whole embedded system for development and stop all of it on Ctrl-C.

Processes: the Pollinations simulator (upstream), the gateway (ASGI, port 8000) and the job
worker. With ``--reload`` (``make run``) the gateway restarts its worker when a file under the
project's Django apps changes (code or templates; uvicorn's reloader, with watchfiles)
and the job worker restarts on code changes (Django's autoreloader); the image never reloads.
Each runs in its own process group so one Ctrl-C (or SIGTERM) stops every one of them, and if any
of them exits the others are stopped too rather than left half-running.

Stopping is signal-safe: the first SIGINT/SIGTERM/SIGHUP starts a graceful stop (SIGTERM to each
group, then SIGKILL after a grace period); a further signal while stopping only cuts the grace
period short. The signal handler only sets flags — it never raises (an exception could land inside
the stop routine, or inside ``Popen`` bookkeeping) and never prints (a print inside a handler can
hit a re-entrant write) — so every child is always signalled and reaped.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mcp_site.config import simulator_port
from scripts.local_processes import gateway_command

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
GATEWAY_PORT = int(os.environ.get("PORT", "8000"))
# The gateway reads the same variable (mcp_site.config) for its default upstream URLs.
SIMULATOR_PORT = simulator_port(os.environ)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: How long the processes get to stop after SIGTERM before their groups are killed.
GRACE_SECONDS = 10.0
POLL_SECONDS = 0.05


def reload_paths() -> list[Path]:
    """What the gateway's reloader watches: every Django app of the project (its code, templates, static files)."""
    return sorted(apps_py.parent for apps_py in ROOT.glob("*/apps.py"))


#: What restarts the gateway: its modules, and templates (read once per process).
RELOAD_INCLUDES = ("*.py", "*.html", "*.txt")


def gateway_reload_flags(paths: list[Path]) -> list[str]:
    return [
        "--reload",
        *(flag for path in paths for flag in ("--reload-dir", str(path))),
        *(flag for pattern in RELOAD_INCLUDES for flag in ("--reload-include", pattern)),
    ]


def _commands(*, reload: bool = False) -> dict[str, list[str]]:
    commands = {
        "gateway": gateway_command(GATEWAY_PORT, *(gateway_reload_flags(reload_paths()) if reload else [])),
        # A short poll keeps enqueue → running well under 50 ms (bench/jobs.py); an idle poll is one indexed query.
        "worker": [PY, "manage.py", "db_worker", "--interval", "0.1", "--reload" if reload else "--no-reload"],
    }
    if os.environ.get("MCP_UPSTREAM", "simulator") == "simulator":
        commands = {
            "simulator": [PY, "-m", "simulator", "--host", "127.0.0.1", "--port", str(SIMULATOR_PORT)]
        } | commands
    return commands


class Supervisor:
    """The started processes and the stop state; :meth:`stop` may be called any number of times."""

    def __init__(self) -> None:
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.stopping = False
        self.hurry = False

    def on_signal(self, signum: int, frame: object) -> None:
        """First signal: ask the main loop to stop. Later ones: cut the grace period short."""
        if self.stopping:
            self.hurry = True
        self.stopping = True

    def start(self, name: str, command: list[str]) -> None:
        self.processes[name] = subprocess.Popen(command, cwd=ROOT, start_new_session=True)
        print(f"[run] started {name} (pid {self.processes[name].pid})", flush=True)

    def wait_for_stop(self) -> int:
        """Until a signal asks to stop (→ 0) or a process exits (→ its code, at least 1)."""
        while not self.stopping:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    self.stopping = True
                    print(f"[run] {name} exited with {proc.returncode}; stopping the rest", flush=True)
                    return proc.returncode or 1
            time.sleep(POLL_SECONDS)
        print("\n[run] stopping… (a second Ctrl-C skips the grace period)", flush=True)
        return 0

    def stop(self) -> None:
        """SIGTERM every group, wait up to the grace period (less after another signal), SIGKILL the rest, reap all.

        Idempotent: processes already reaped are skipped by the signals and their ``wait()`` returns at once.
        """
        self.stopping = True
        for proc in self.processes.values():
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for name, proc in self.processes.items():
            while proc.poll() is None and not self.hurry and time.monotonic() < deadline:
                time.sleep(POLL_SECONDS)
            if proc.poll() is None:
                print(f"[run] killing {name}", flush=True)
            # Also kills what the leader left behind in its group (uvicorn's reloaded server, for one).
            _signal_group(proc, signal.SIGKILL)
            proc.wait()


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    # The group may be empty already (everything exited between the check and the signal).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.run", description=__doc__.splitlines()[0])
    parser.add_argument("--reload", action="store_true", help="restart the gateway and worker when code changes")
    reload = parser.parse_args(argv).reload
    supervisor = Supervisor()
    if os.environ.get("MCP_UPSTREAM", "simulator") == "simulator":
        # Pass the simulator's fault header through: `make smoke` paces its streamed check with it.
        os.environ.setdefault("MCP_FORWARD_HEADERS", "traceparent,tracestate,x-sim-fault")
    for sig in STOP_SIGNALS:
        signal.signal(sig, supervisor.on_signal)
    try:
        for name, command in _commands(reload=reload).items():
            if supervisor.stopping:
                break
            supervisor.start(name, command)
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
        return supervisor.wait_for_stop()
    finally:
        supervisor.stop()


if __name__ == "__main__":
    sys.exit(main())
