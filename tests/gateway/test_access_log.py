"""The access log: one line per request, prompts in paths withheld unless opted in, the trace id when traced."""

from __future__ import annotations

import json

import pytest
from structlog.testing import capture_logs

from core.tracing import add_trace_ids
from tests.fixtures.tracing import Spans, hex_trace

pytestmark = pytest.mark.django_db(transaction=True)

PROMPT = "a secret lighthouse at dusk"


def access_lines(logs: list[dict]) -> list[dict]:
    return [line for line in logs if line.get("event") == "request"]


async def test_a_prompt_in_a_pollinations_path_is_not_logged_by_default(client):
    with capture_logs() as logs:
        response = await client.get(f"/text/{PROMPT}")
    assert response.status_code == 200
    (line,) = access_lines(logs)
    assert line["path"] is None and "prompt" in line["route"]
    assert "secret lighthouse" not in json.dumps(logs, default=str)


async def test_logging_prompts_is_an_explicit_opt_in(client, settings):
    settings.LOG_PROMPTS = True
    with capture_logs() as logs:
        await client.get(f"/text/{PROMPT}")
    (line,) = access_lines(logs)
    assert line["path"] == f"/text/{PROMPT}"


async def test_every_line_of_a_traced_request_carries_its_trace_id(client, spans: Spans):
    with capture_logs(processors=[add_trace_ids]) as logs:
        await client.post(
            "/v1/chat/completions", json={"model": "openai", "messages": [{"role": "user", "content": "x"}]}
        )
    (line,) = access_lines(logs)
    assert line["trace_id"] == hex_trace(spans.one("POST v1/chat/completions"))
