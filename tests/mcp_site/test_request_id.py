"""Every response carries a request id, which every log line of that request also carries."""

from __future__ import annotations

import logging
import re

import pytest


def _access_records(caplog) -> list[dict]:
    return [r.msg for r in caplog.records if r.name == "mcp.access" and isinstance(r.msg, dict)]


def test_a_well_formed_request_id_is_propagated_to_response_and_logs(client, caplog):
    caplog.set_level(logging.INFO, logger="mcp.access")
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abc-123.def")
    assert response["X-Request-ID"] == "abc-123.def"
    [record] = _access_records(caplog)
    assert record["request_id"] == "abc-123.def"
    assert record["status"] == 200
    assert record["route"] == "healthz"


def test_a_missing_request_id_is_generated(client):
    response = client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


@pytest.mark.parametrize("hostile", ["a b", "x" * 200, "id\nInjected: yes", "<script>"])
def test_a_malformed_request_id_is_replaced_not_echoed(client, hostile):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=hostile)
    assert response["X-Request-ID"] != hostile
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_request_context_does_not_leak_into_the_next_request(client, caplog):
    import structlog

    client.get("/healthz", HTTP_X_REQUEST_ID="first")
    assert "request_id" not in structlog.contextvars.get_contextvars()
