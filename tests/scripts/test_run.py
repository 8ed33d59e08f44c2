"""``make run`` (``python -m scripts.run``) as a real process: it honours SIMULATOR_PORT and stops every child.

The stop routine must survive a second signal (Ctrl-C twice, or a SIGTERM to run.py's process group
while it is stopping) and still signal and reap every process it started: none may be left running,
orphaned, on its port.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from scripts.local_processes import ROOT, free_port, manage

pytestmark = pytest.mark.slow

STARTUP_SECONDS = 60
STOP_SECONDS = 20
CHAT = {"model": "openai", "messages": [{"role": "user", "content": "Hello"}]}


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    log: Path
    gateway: str
    ports: tuple[int, int]
    key: str

    def children(self) -> dict[str, int]:
        """name → pid of each process run.py says it started."""
        return {m[0]: int(m[1]) for m in re.findall(r"\[run\] started (\w+) \(pid (\d+)\)", self.log.read_text())}


def _process_groups() -> dict[int, int]:
    """pid → process group of every live process (zombies excluded: they hold no port and do no work)."""
    groups = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        state, _ppid, pgrp = text.rsplit(")", 1)[1].split()[:3]
        if state != "Z":
            groups[int(stat.parent.name)] = int(pgrp)
    return groups


def _port_is_free(port: int) -> bool:
    """True when nothing listens on ``port``.

    SO_REUSEADDR lets the bind succeed past connections left in TIME_WAIT by whichever side closed
    first during the stop; those are the kernel's, not a process left running.
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    """``python -m scripts.run`` on free ports with its own SQLite database, in its own process group."""
    gateway_port, simulator_port = free_port(), free_port()
    keep = ("PATH", "HOME", "LANG", "TMPDIR")
    env = {
        **{k: v for k, v in os.environ.items() if k in keep},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "PORT": str(gateway_port),
        "SIMULATOR_PORT": str(simulator_port),
        "LOG_LEVEL": "WARNING",
    }
    manage(["migrate", "--noinput"], env)
    manage(["create_organization", "--slug", "demo"], env)
    key = json.loads(manage(["create_api_key", "--org", "demo", "--name", "demo", "--json"], env).stdout)["key"]
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "scripts.run"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Running(process, log, f"http://127.0.0.1:{gateway_port}", (gateway_port, simulator_port), key)
    try:
        _wait_ready(running)
        yield running
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        # Whatever the test did, leave no child behind.
        for pid in running.children().values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def _wait_ready(running: Running) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    last = "no answer"
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            pytest.fail(f"run.py exited with {running.process.returncode}:\n{running.log.read_text()[-3000:]}")
        try:
            response = httpx.get(f"{running.gateway}/readyz", timeout=5)
            if response.status_code == 200 and len(running.children()) == 3:
                return
            last = f"{response.status_code} {response.text[:300]}"
        except httpx.TransportError as exc:
            last = type(exc).__name__
        time.sleep(0.2)
    pytest.fail(f"not ready after {STARTUP_SECONDS} s ({last}):\n{running.log.read_text()[-3000:]}")


def _assert_everything_stopped(running: Running, groups_before: set[int]) -> None:
    running.process.wait(STOP_SECONDS)
    left = {pid: pgrp for pid, pgrp in _process_groups().items() if pgrp in groups_before}
    assert left == {}, f"still running: {left}\n{running.log.read_text()[-2000:]}"
    busy = [port for port in running.ports if not _port_is_free(port)]
    assert busy == [], f"still listening on {busy}\n{running.log.read_text()[-2000:]}"


def test_the_gateway_follows_simulator_port_to_its_upstream(running):
    response = httpx.post(
        f"{running.gateway}/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {running.key}"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"]
    assert httpx.get(f"{running.gateway}/readyz").json()["checks"]["default_upstream"]["reachable"] is True


def test_ctrl_c_twice_stops_and_reaps_every_child(running):
    groups = set(running.children().values())
    assert {"simulator", "gateway", "worker"} == set(running.children())
    running.process.send_signal(signal.SIGINT)
    time.sleep(0.05)
    running.process.send_signal(signal.SIGINT)
    _assert_everything_stopped(running, groups)
    assert "Traceback" not in running.log.read_text()


def test_sigterm_to_the_process_group_while_stopping_stops_and_reaps_every_child(running):
    groups = set(running.children().values())
    os.killpg(running.process.pid, signal.SIGTERM)
    time.sleep(0.05)
    os.killpg(running.process.pid, signal.SIGTERM)
    _assert_everything_stopped(running, groups)
    assert running.process.returncode == 0
    assert "Traceback" not in running.log.read_text()
