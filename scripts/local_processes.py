"""Start, watch and stop local server processes: used by ``scripts.cluster_local``, ``make screenshots`` and the tests.

Each process runs in its own session (process group), so stopping or killing it also stops any
children it forked (uvicorn's workers and reloader, for one). Output goes to one log file per process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
STARTUP_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gateway_command(port: int, *options: str, workers: int = 1, python: str = PYTHON) -> list[str]:
    """A gateway on loopback as the image's ``web`` role runs it (uvicorn and the gateway's HTTP protocol), scaled down.

    :param options: more uvicorn flags (``--log-level``, the reloader's).
    :param python: the interpreter to run it with (the benchmark's may be another virtualenv's).
    """
    return [
        python,
        "-m",
        "uvicorn",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        "mcp_site.http_protocol:GatewayHttpProtocol",
        "--ws",
        "websockets-sansio",
        "--ws-max-size",
        "65536",
        "--no-access-log",
        "--no-proxy-headers",
        "--no-server-header",
        "--timeout-graceful-shutdown",
        "50",
        *options,
        "mcp_site.asgi:application",
    ]


def simulator_command(port: int) -> list[str]:
    return [PYTHON, "-m", "simulator", "--host", "127.0.0.1", "--port", str(port)]


def manage(args: Sequence[str], env: Mapping[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py`` with the given environment; raise with its output if it fails."""
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=dict(env), capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return result


class ProcessGroup:
    """Named processes started together and always stopped together (use it as a context manager)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        log_dir.mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def start(self, name: str, command: Sequence[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        """Start ``command`` as ``name`` (replacing a stopped process of that name), logging to a file."""
        if name in self.processes and self.processes[name].poll() is None:
            raise RuntimeError(f"{name} is already running (pid {self.processes[name].pid})")
        with self.log_path(name).open("ab") as log:
            process = subprocess.Popen(
                list(command),
                cwd=ROOT,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[name] = process
        return process

    def wait_http(self, name: str, url: str, timeout: float = STARTUP_TIMEOUT_SECONDS) -> None:
        """Poll ``url`` until it answers 200; fail early, quoting the log, if ``name`` exits."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.processes[name].poll() is not None:
                raise RuntimeError(f"{name} exited with {self.processes[name].returncode}:\n{self.tail(name)}")
            try:
                response = httpx.get(url, timeout=2)
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}: {response.text[:200]}"
            except httpx.TransportError as exc:
                last = type(exc).__name__
            time.sleep(0.1)
        raise RuntimeError(f"{name} not ready at {url} after {timeout:.0f} s ({last}):\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 20) -> str:
        path = self.log_path(name)
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def exited(self) -> dict[str, int]:
        """The processes that have stopped, with their exit codes."""
        return {name: p.returncode for name, p in self.processes.items() if p.poll() is not None}

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the process group of ``name`` and reap it."""
        process = self.processes[name]
        if process.poll() is None:
            os.killpg(process.pid, sig)
        process.wait(STOP_TIMEOUT_SECONDS)

    def stop_all(self) -> None:
        """SIGTERM every process group, then SIGKILL what is still running after the grace period."""
        running = [p for p in self.processes.values() if p.poll() is None]
        for process in running:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for process in running:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait(STOP_TIMEOUT_SECONDS)


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    # It may have exited between the check and the signal.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


@contextlib.contextmanager
def embedded_gateway(
    state: Path, *, org: str = "demo", port: int | None = None, **extra: str
) -> Iterator[tuple[str, str, dict[str, str]]]:
    """A whole gateway as a stranger runs it: SQLite in ``state``, the simulator upstream, uvicorn.

    Migrates, creates organisation ``org`` with an API key, and serves until the block ends.

    :param port: where to listen (chosen beforehand when e.g. a redirect URI must name it); a free one by default.
    :param extra: environment variables set on top (e.g. ``REGISTRATION_MODE``).
    :returns: (base URL, API key, the environment, for ``manage()`` calls against the same database).
    """
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_ENV")}
    base["PYTHONPATH"] = str(ROOT)
    with ProcessGroup(state / "logs") as group:
        simulator_port = free_port()
        upstream = f"http://127.0.0.1:{simulator_port}"
        group.start("simulator", simulator_command(simulator_port), base)
        group.wait_http("simulator", f"{upstream}/_sim/health")
        env = {
            **base,
            "DATABASE_URL": f"sqlite:///{state / 'db.sqlite3'}",
            "MCP_UPSTREAM": "simulator",
            "POLLINATIONS_GEN_URL": upstream,
            "POLLINATIONS_IMAGE_URL": f"{upstream}/legacy/image",
            "POLLINATIONS_TEXT_URL": f"{upstream}/legacy/text",
            "MCP_FORWARD_HEADERS": "x-sim-fault",
            **extra,
        }
        manage(["migrate", "--noinput"], env)
        manage(["create_organization", "--slug", org], env)
        key = json.loads(manage(["create_api_key", "--org", org, "--name", org, "--json"], env).stdout)["key"]
        port = port or free_port()
        group.start("gateway", gateway_command(port), env)
        group.wait_http("gateway", f"http://127.0.0.1:{port}/readyz")
        yield f"http://127.0.0.1:{port}", key, env
