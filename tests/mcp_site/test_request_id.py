"""Every response carries a request id, which every log line of that request also carries."""

from __future__ import annotations

import re

import pytest
import structlog
import structlog.testing


def test_a_well_formed_request_id_is_propagated_to_response_and_logs(client):
    with structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        response = client.get("/healthz", HTTP_X_REQUEST_ID="abc-123.def")
    assert response["X-Request-ID"] == "abc-123.def"
    [record] = [line for line in logs if line["event"] == "request"]
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


def test_request_context_does_not_leak_into_the_next_request(client):
    client.get("/healthz", HTTP_X_REQUEST_ID="first")
    assert "request_id" not in structlog.contextvars.get_contextvars()


def test_log_lines_are_json_with_the_request_id_in_production_format(tmp_path):
    from tests.conftest import run_django

    result = run_django(
        "from django.test import Client\nClient().get('/healthz', HTTP_X_REQUEST_ID='json-check')\n",
        env={"LOG_FORMAT": "json"},
    )
    import json

    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    [access] = [line for line in lines if line.get("event") == "request"]
    assert access["request_id"] == "json-check"
    assert access["logger"] == "mcp.access"
    assert access["level"] == "info"
