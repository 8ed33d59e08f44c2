"""Every request that reaches routing reports its outcome exactly once, however it ends."""

from __future__ import annotations

import pytest

from plugins.hookspecs import hookimpl
from plugins.registry import plugin_manager

pytestmark = pytest.mark.django_db(transaction=True)

BODY = {"model": "openai", "messages": [{"role": "user", "content": "Count my tokens please"}]}


class Observer:
    def __init__(self) -> None:
        self.outcomes = []

    @hookimpl
    def mcp_response(self, call, caller, outcome):
        self.outcomes.append((call, caller, outcome))


@pytest.fixture
def observer():
    plugin = Observer()
    plugin_manager().register(plugin, name="test-observer")
    yield plugin
    plugin_manager().unregister(name="test-observer")


async def test_a_completion_reports_the_upstreams_usage_once(client, observer):
    await client.post("/v1/chat/completions", json=BODY)
    [(_, caller, outcome)] = observer.outcomes
    assert outcome.status == 200
    assert outcome.provider == "pollinations-text"
    assert outcome.usage.source == "upstream"
    assert outcome.usage.input_tokens > 0
    assert outcome.usage.output_tokens > 0
    assert caller.key_id is not None
    assert outcome.latency_ms > 0


async def test_a_stream_reports_usage_even_when_the_client_did_not_ask_for_it(client, observer):
    await client.post("/v1/chat/completions", json={**BODY, "stream": True})
    [(_, _, outcome)] = observer.outcomes
    assert outcome.usage.output_tokens > 0
    assert outcome.usage.source == "upstream"


async def test_a_stream_broken_mid_way_reports_the_usage_delivered_so_far(client, observer):
    response = await client.post(
        "/v1/chat/completions", json={**BODY, "stream": True}, headers={"X-Sim-Fault": "drop-mid-stream"}
    )
    assert '"upstream_error"' in response.text
    [(_, _, outcome)] = observer.outcomes
    assert outcome.status == 502
    assert outcome.usage.source == "counted"
    assert outcome.usage.output_tokens > 0


@pytest.mark.parametrize(
    "path",
    ["/audio/hello%20world?voice=nova", "/text/hello%20world?model=openai-audio&voice=nova"],
)
async def test_speech_by_url_reports_the_characters_spoken_never_zero(client, observer, path):
    """Like ``/v1/audio/speech``, which is charged per character of its input: the URL's text is the input."""
    response = await client.get(path)
    assert response.status_code == 200, response.text
    [(_, _, outcome)] = observer.outcomes
    assert outcome.usage is not None and outcome.usage.characters == len("hello world")
    assert (outcome.usage.input_tokens, outcome.usage.output_tokens) == (0, 0)  # billed by characters alone


async def test_a_refused_upstream_call_is_reported_with_its_status_and_no_provider(client, observer):
    await client.post("/v1/chat/completions", json=BODY, headers={"X-Sim-Fault": "status=503"})
    [(_, _, outcome)] = observer.outcomes
    assert outcome.status == 502
    assert outcome.provider == ""
    assert outcome.usage is None


async def test_a_cache_hit_is_reported_as_such(client, observer):
    body = {"prompt": "fox", "size": "64x64", "seed": 11}
    await client.post("/v1/images/generations", json=body)
    await client.post("/v1/images/generations", json=body)
    assert [o.cache_hit for _, _, o in observer.outcomes] == [False, True]
    assert observer.outcomes[0][2].usage.images == 1


async def test_a_request_hook_can_refuse_before_anything_is_sent(client, upstream):
    class Guard:
        @hookimpl
        def mcp_request(self, call, caller):
            return "Prompts about secrets are not allowed here." if "secret" in str(call.payload) else None

    plugin_manager().register(Guard(), name="test-guard")
    try:
        response = await client.post(
            "/v1/chat/completions", json={**BODY, "messages": [{"role": "user", "content": "a secret"}]}
        )
    finally:
        plugin_manager().unregister(name="test-guard")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "request_refused"
    assert upstream.get("/_sim/requests").json()["requests"] == []


async def test_a_request_hook_can_amend_the_payload(client, upstream):
    class SystemPrompt:
        @hookimpl
        def mcp_request(self, call, caller):
            call.payload["messages"].insert(0, {"role": "system", "content": "Be brief."})

    plugin_manager().register(SystemPrompt(), name="test-amend")
    try:
        plain = await client.post("/v1/chat/completions", json={**BODY, "seed": 1})
    finally:
        plugin_manager().unregister(name="test-amend")
    amended_size = upstream.get("/_sim/requests").json()["requests"][-1]["body_size"]
    await client.post("/v1/chat/completions", json={**BODY, "seed": 2})
    assert plain.status_code == 200
    assert amended_size > upstream.get("/_sim/requests").json()["requests"][-1]["body_size"]


async def test_a_request_refused_after_routing_is_still_reported_once(client, observer, amake_key):
    image_only = await amake_key(scopes=("image",))
    response = await client.post("/v1/chat/completions", json=BODY, headers={"Authorization": f"Bearer {image_only}"})
    assert response.status_code == 403
    [(_, _, outcome)] = observer.outcomes
    assert (outcome.provider, outcome.status, outcome.usage) == ("", 403, None)


async def test_a_request_hook_that_crashes_refuses_the_request_and_nothing_is_sent(client, observer, upstream):
    class Broken:
        @hookimpl
        def mcp_request(self, call, caller):
            raise RuntimeError("guardrail backend down")

    plugin_manager().register(Broken(), name="test-broken-guard")
    try:
        response = await client.post("/v1/chat/completions", json=BODY)
    finally:
        plugin_manager().unregister(name="test-broken-guard")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "plugin_error"
    assert "guardrail backend" not in response.text
    assert upstream.get("/_sim/requests").json()["requests"] == []
    [(_, _, outcome)] = observer.outcomes
    assert outcome.status == 500
