"""``make run`` reloads the gateway: uvicorn with scripts/run.py's reload flags restarts on code and template edits."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from itertools import pairwise
from pathlib import Path

import httpx
import pytest

from scripts import run
from tests.fixtures.simulator_server import free_port

RELOAD_SECONDS = 30.0

APP = """
from pathlib import Path

PAGE = (Path(__file__).parent / "page.html").read_text()
VERSION = "{version}"


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({{"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}})
    await send({{"type": "http.response.body", "body": f"{{VERSION}} {{PAGE}}".encode()}})
"""


#: How often an edit is written again while the answer has not changed.
REWRITE_SECONDS = 3.0


def _wait_for(url: str, expected: str, log: Path, edit: tuple[Path, str] | None = None) -> None:
    """Wait for ``url`` to answer ``expected``, writing ``edit`` (a file and its text) meanwhile.

    The edit is written again every :data:`REWRITE_SECONDS` while the old answer comes back: uvicorn's
    reloader starts watching only after its server is up and a reload delay has passed, so an edit
    made the moment the server first answers can land before anything watches (a loaded CI machine
    did). Each write is a new change; none is made while the server restarts (no answer).
    """
    deadline, last, written, old_answer = time.monotonic() + RELOAD_SECONDS, "no answer", 0.0, True
    while time.monotonic() < deadline:
        if edit is not None and old_answer and time.monotonic() - written >= REWRITE_SECONDS:
            edit[0].write_text(edit[1])
            written = time.monotonic()
        try:
            last = httpx.get(url, timeout=2).text
            if last == expected:
                return
            old_answer = True
        except httpx.TransportError as exc:
            last, old_answer = type(exc).__name__, False
        time.sleep(0.2)
    pytest.fail(f"still {last!r}, not {expected!r}, after {RELOAD_SECONDS} s:\n{log.read_text()[-2000:]}")


def test_the_reloading_gateway_restarts_when_a_module_or_a_template_changes(tmp_path):
    # The gateway command of `make run`, serving a small app from a watched folder instead of the project.
    site = tmp_path / "site"
    site.mkdir()
    (site / "page.html").write_text("first page")
    (site / "reloadapp.py").write_text(APP.format(version="v1"))
    port = free_port()
    command = list(run._commands(reload=False)["gateway"])
    command[command.index("--port") + 1] = str(port)
    command = [*command[:-1], *run.gateway_reload_flags([site]), "reloadapp:app"]
    log = tmp_path / "gateway.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=site,
            env={**os.environ, "PYTHONPATH": str(site)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_for(url, "v1 first page", log)
        _wait_for(url, "v2 first page", log, edit=(site / "reloadapp.py", APP.format(version="v2")))
        _wait_for(url, "v2 second page", log, edit=(site / "page.html", "second page"))
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_make_run_reloads_the_project_apps_and_the_worker_but_plain_runs_and_the_image_do_not():
    reloading = run._commands(reload=True)
    watched = {Path(p) for a, p in pairwise(reloading["gateway"]) if a == "--reload-dir"}
    assert {run.ROOT / app for app in ("dashboard", "gateway", "billing", "accounts", "mcp_site")} <= watched
    assert "--reload" in reloading["gateway"] and reloading["worker"][-1] == "--reload"
    plain = run._commands()
    assert "--reload" not in plain["gateway"] and plain["worker"][-1] == "--no-reload"
    assert "-m scripts.run --reload" in (run.ROOT / "Makefile").read_text()
    entrypoint = (run.ROOT / "docker" / "entrypoint.sh").read_text()
    assert "--reload " not in entrypoint and "db_worker --interval" in entrypoint and "--no-reload" in entrypoint
