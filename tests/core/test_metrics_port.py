"""Processes without HTTP of their own (job worker, ledger writer) serve metrics on METRICS_PORT."""

from __future__ import annotations

import socket

import httpx

from core.metrics import serve_metrics_port
from mcp_site.config import load_config
from tests.fixtures.simulator_server import free_port


def test_metrics_port_is_off_unless_set():
    assert load_config({}).metrics_port == 0
    assert load_config({"METRICS_PORT": "9100"}).metrics_port == 9100


def test_a_process_serves_its_metrics_on_the_port():
    port = free_port()
    serve_metrics_port(port)
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert "mcp_jobs_run_seconds_bucket" in body or "mcp_jobs_run_seconds" in body
    assert "mcp_webhook_delivery_lag_seconds" in body


def test_a_taken_port_is_logged_not_fatal(capsys):
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))  # noqa: S104 - the metrics server binds all interfaces too
        taken.listen()
        serve_metrics_port(taken.getsockname()[1])
    assert "metrics_port_unavailable" in capsys.readouterr().err
