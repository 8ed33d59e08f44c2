"""POST /v1/chat/completions: OpenAI's request and answer shapes, through the gateway to the upstream."""

from __future__ import annotations

import json

import pytest

from mcp_site.config import SIMULATOR_API_KEY
from simulator.auth import fingerprint
from tests.gateway.conftest import upstream_requests

pytestmark = pytest.mark.django_db(transaction=True)

BODY = {"model": "openai", "messages": [{"role": "user", "content": "Say hello to the gateway"}], "seed": 3}


def _sse_events(text: str) -> list[str]:
    return [line[6:] for line in text.split("\n") if line.startswith("data: ")]


async def test_a_chat_completion_is_answered_in_openai_shape_with_usage(client):
    response = await client.post("/v1/chat/completions", json=BODY)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["role"] == "assistant"
    assert body["choices"][0]["message"]["content"]
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    assert response.headers["X-Request-ID"]


async def test_the_upstream_gets_the_gateways_key_not_the_callers(client, upstream, api_key):
    await client.post("/v1/chat/completions", json=BODY)
    [sent] = upstream_requests(upstream, "/v1/chat/completions")
    # The simulator logs credentials as fingerprints.
    assert sent["headers"]["authorization"] == f"Bearer {fingerprint(SIMULATOR_API_KEY)}"
    assert fingerprint(api_key) not in json.dumps(sent)


async def test_a_streamed_completion_is_relayed_as_sse_ending_with_done(client):
    response = await client.post("/v1/chat/completions", json={**BODY, "stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _sse_events(response.text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


async def test_the_usage_chunk_the_gateway_asks_for_is_hidden_unless_the_client_asked(client, upstream):
    response = await client.post("/v1/chat/completions", json={**BODY, "stream": True})
    chunks = [json.loads(e) for e in _sse_events(response.text)[:-1]]
    assert all(c["choices"] for c in chunks), "no usage-only chunk reaches a client that did not ask"
    [sent] = upstream_requests(upstream, "/v1/chat/completions")
    assert sent["body_size"] > 0


async def test_the_usage_chunk_is_relayed_when_the_client_asked_for_it(client):
    body = {**BODY, "stream": True, "stream_options": {"include_usage": True}}
    response = await client.post("/v1/chat/completions", json=body)
    chunks = [json.loads(e) for e in _sse_events(response.text)[:-1]]
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] > 0


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 7, 13, 64, 101])
async def test_the_usage_chunk_stays_hidden_when_the_upstream_splits_events_across_reads(client, chunk_bytes):
    body = {"messages": BODY["messages"], "stream": True, "private": True}
    fault = {"x-sim-fault": f"chunk-bytes={chunk_bytes}"}
    response = await client.post("/v1/chat/completions", json=body, headers=fault)
    events = _sse_events(response.text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["choices"] for c in chunks), "no usage-only chunk reaches a client that did not ask"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    asked = await client.post(
        "/v1/chat/completions", json={**body, "stream_options": {"include_usage": True}}, headers=fault
    )
    assert json.loads(_sse_events(asked.text)[-2])["usage"]["completion_tokens"] > 0


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "openai"}, "messages"),
        ({"model": "openai", "messages": []}, "messages"),
        ({"model": "openai", "messages": ["hi"]}, "messages[0]"),
        ({"model": 42, "messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "openai", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream"),
    ],
)
async def test_invalid_bodies_are_refused_with_400_naming_the_field(client, body, param):
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    assert error["message"]


async def test_a_body_that_is_not_json_is_refused_with_400(client):
    response = await client.post(
        "/v1/chat/completions", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


async def test_an_unknown_model_is_404_in_openai_shape(client):
    response = await client.post("/v1/chat/completions", json={**BODY, "model": "no-such-model"})
    assert response.status_code == 404
    assert response.json()["error"] == {
        "message": "The model 'no-such-model' does not exist or is not served here. GET /v1/models lists the models.",
        "type": "invalid_request_error",
        "code": "model_not_found",
        "param": "model",
    }


@pytest.mark.parametrize(
    "authorization", [None, "Bearer ", "Bearer mgw_short", "Basic abc", "Bearer sk_simulatorsimulatorsimulator12345"]
)
async def test_missing_or_malformed_keys_get_one_401(anonymous, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = await anonymous.post("/v1/chat/completions", json=BODY, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    assert response.json()["error"]["code"] == "invalid_api_key"


async def test_a_key_without_the_text_scope_is_refused_with_403(client, amake_key):
    image_only = await amake_key(scopes=("image",))
    response = await client.post("/v1/chat/completions", json=BODY, headers={"Authorization": f"Bearer {image_only}"})
    assert response.status_code == 403
    assert "text modality" in response.json()["error"]["message"]


async def test_a_key_limited_to_other_models_is_refused_with_403(client, amake_key):
    limited = await amake_key(allowed_models=("mistral",))
    response = await client.post("/v1/chat/completions", json=BODY, headers={"Authorization": f"Bearer {limited}"})
    assert response.status_code == 403
    assert response.json()["error"]["param"] == "model"


async def test_an_upstream_client_error_is_relayed_as_the_callers_4xx(client):
    response = await client.post("/v1/chat/completions", json=BODY, headers={"X-Sim-Fault": "status=400"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "upstream_rejected"


async def test_an_upstream_outage_is_a_502_upstream_error_with_no_internal_details(client, upstream_url):
    response = await client.post("/v1/chat/completions", json=BODY, headers={"X-Sim-Fault": "status=503"})
    assert response.status_code == 502
    assert "Retry-After" not in response.headers, "no invented wait when the upstream named none"
    assert response.json()["error"]["code"] == "upstream_error"
    assert upstream_url.split("//")[1] not in response.text


async def test_an_upstream_503_that_says_when_to_retry_is_a_503_with_the_upstreams_own_retry_after(client):
    response = await client.post("/v1/chat/completions", json=BODY, headers={"X-Sim-Fault": "status=503;retry-after=7"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    assert response.json()["error"]["code"] == "upstream_unavailable"


async def test_a_request_id_sent_by_the_client_is_answered_and_forwarded(client, upstream):
    response = await client.post("/v1/chat/completions", json=BODY, headers={"X-Request-ID": "trace-42"})
    assert response.headers["X-Request-ID"] == "trace-42"
    [sent] = upstream_requests(upstream, "/v1/chat/completions")
    assert sent["headers"].get("x-request-id") == "trace-42"


async def test_tools_and_json_mode_pass_through(client):
    tools = [
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}
    ]
    body = {**BODY, "response_format": {"type": "json_object"}, "tools": tools}
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    message = response.json()["choices"][0]["message"]
    assert message.get("tool_calls") or json.loads(message["content"]) is not None
