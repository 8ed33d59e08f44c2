"""Fixtures for jobs: real worker processes, a local webhook receiver, WebSocket clients.

Worker processes share the test database, so tests that start one need a database another process
can open (PostgreSQL: ``DATABASE_URL``); with the in-memory SQLite test database they skip (and
fail under ``CI=true``). Live events cross processes only through Redis (``REDIS_URL``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from channels.testing import WebsocketCommunicator
from django.db import connection

from tests.billing import conftest as billing_fixtures
from tests.conftest import ROOT, require_env
from tests.gateway import conftest as gateway_fixtures

# The gateway's fixtures (a simulator upstream, an organisation, keys, ASGI clients), shared here.
for _name in (
    "amake_key",
    "anonymous",
    "api_key",
    "client",
    "gateway_settings",
    "make_key",
    "organization",
    "upstream",
):
    globals()[_name] = getattr(gateway_fixtures, _name)
# Billing's plans and subscriptions, for jobs scheduled and charged by plan.
for _name in ("make_plan", "subscribe"):
    globals()[_name] = getattr(billing_fixtures, _name)

HARNESS = Path(__file__).with_name("worker_harness.py")


def database_url_for_workers() -> str:
    """The test database's URL, for worker processes (PostgreSQL only)."""
    require_env("DATABASE_URL")
    s = connection.settings_dict
    if connection.vendor != "postgresql":
        pytest.skip("worker processes need the PostgreSQL test database")
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def start_worker(job_settings, upstream_url, tmp_path) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start ``db_worker`` processes on the test database: ``start_worker(stall=False)``."""
    processes: list[subprocess.Popen] = []
    base = {
        **os.environ,
        "DATABASE_URL": database_url_for_workers(),
        "POLLINATIONS_GEN_URL": upstream_url,
        "POLLINATIONS_IMAGE_URL": f"{upstream_url}/legacy/image",
        "POLLINATIONS_TEXT_URL": f"{upstream_url}/legacy/text",
        "SECRET_KEY": job_settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEY": job_settings.FIELD_ENCRYPTION_KEY,
        "MEDIA_ROOT": str(job_settings.MEDIA_ROOT),
        "WEBHOOKS_ALLOW_PRIVATE": "true",
        "JOBS_LEASE_SECONDS": str(job_settings.JOBS_LEASE_SECONDS),
        "MCP_TEST_USAGE_LOG": str(tmp_path / "usage.log"),
        "LOG_LEVEL": "WARNING",
    }

    def start(*, stall: bool = False, extra: dict[str, str] | None = None) -> subprocess.Popen:
        env = {**base, **(extra or {})}
        if stall:
            env["MCP_TEST_STALL_MARKER"] = str(tmp_path / "stalled")
        process = subprocess.Popen([sys.executable, str(HARNESS)], cwd=ROOT, env=env, start_new_session=True)
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # a graceful stop closes its database connections
    for process in processes:
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


@pytest.fixture
def job_settings(gateway_settings, tmp_path):
    gateway_settings.MEDIA_ROOT = str(tmp_path / "media")
    gateway_settings.JOBS_LEASE_SECONDS = 2
    gateway_settings.WEBHOOKS_ALLOW_PRIVATE = True
    gateway_settings.WEBHOOKS_TIMEOUT_SECONDS = 1
    gateway_settings.WEBHOOKS_RETRY_DELAYS = [1, 2]
    return gateway_settings  # FileSystemStorage follows MEDIA_ROOT changes (setting_changed)


def usage_lines(tmp_path: Path) -> list[str]:
    log = tmp_path / "usage.log"
    return log.read_text().split("\n")[:-1] if log.exists() else []


def wait_for(predicate: Callable[[], object], timeout: float = 20, interval: float = 0.05):
    """Poll until ``predicate()`` is truthy; return its value or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s")


class Receiver:
    """A webhook receiver on 127.0.0.1: records requests, answers with the queued statuses (default 200)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes, str]] = []
        self.statuses: list[int] = []
        self.delay = 0.0
        self.redirect_to: str | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body, self.path))
                time.sleep(receiver.delay)
                if receiver.redirect_to:
                    self.send_response(307)
                    self.send_header("location", receiver.redirect_to)
                else:
                    self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


BROWSER_HEADERS = ((b"origin", b"http://testserver"), (b"host", b"testserver"))


async def closed_with(socket: WebsocketCommunicator) -> int:
    """The code the server closed ``socket`` with, after which the client closes its side too.

    The consumer then ends inside the test: one left waiting for the client is cancelled only when the
    test's event loop closes, and that teardown has hung the run.
    """
    message = await socket.receive_output(timeout=5)
    assert message["type"] == "websocket.close", message
    await socket.disconnect()
    return message["code"]


def communicator(path: str, headers: tuple[tuple[bytes, bytes], ...] = BROWSER_HEADERS) -> WebsocketCommunicator:
    """A client of the real ASGI application; by default it sends what a page of the gateway's would."""
    from mcp_site.asgi import application

    return WebsocketCommunicator(application, path, headers=list(headers))
