"""Run ``manage.py db_worker`` for tests, with two test-only plugins registered first.

* ``MCP_TEST_USAGE_LOG=<file>``: every ``mcp_response`` appends the request id to the file, so a
  test can count how many times a job was charged across worker processes.
* ``MCP_TEST_STALL_MARKER=<file>``: the first job to reach ``mcp_request`` creates the file and
  then blocks the worker (heartbeat included) — a worker hung or about to be killed mid-job.
* ``MCP_TEST_BROKEN_GUARD=1``: every ``mcp_request`` raises — a guardrail whose backend is down.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcp_site.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402

from plugins.hookspecs import hookimpl  # noqa: E402
from plugins.registry import plugin_manager  # noqa: E402


class UsageRecorder:
    @hookimpl
    def mcp_response(self, call, caller, outcome) -> None:
        with open(os.environ["MCP_TEST_USAGE_LOG"], "a") as log:
            log.write(f"{call.request_id} {outcome.status}\n")


class Staller:
    @hookimpl
    def mcp_request(self, call, caller) -> None:
        marker = Path(os.environ["MCP_TEST_STALL_MARKER"])
        if not marker.exists():
            marker.write_text(call.request_id)
            time.sleep(120)


class BrokenGuard:
    @hookimpl
    def mcp_request(self, call, caller) -> None:
        raise RuntimeError("guardrail backend down")


if __name__ == "__main__":
    if os.environ.get("MCP_TEST_USAGE_LOG"):
        plugin_manager().register(UsageRecorder())
    if os.environ.get("MCP_TEST_STALL_MARKER"):
        plugin_manager().register(Staller())
    if os.environ.get("MCP_TEST_BROKEN_GUARD"):
        plugin_manager().register(BrokenGuard())
    call_command("db_worker", "--interval", "0.05", "--no-startup-delay", "--no-reload", *sys.argv[1:])
