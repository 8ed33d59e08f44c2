"""Each hook, exercised through the fake plugin and the real ASGI application."""

from __future__ import annotations

import pytest

from plugins.registry import get_registry, provider_classes
from tests.plugins import fake_plugin

pytestmark = pytest.mark.django_db(transaction=True)

CHAT = {"model": "fake-1", "messages": [{"role": "user", "content": "Hi"}]}


async def test_hook_mcp_provider_classes_makes_the_plugins_models_routable(fake_pm):
    assert provider_classes()["fake"] is fake_plugin.FakeProvider
    [route] = (await get_registry()).routes("fake-1", "chat")
    assert route.provider.name == "fake"


async def test_hook_mcp_request_refuses_with_the_plugins_message(fake_pm, http):
    refused = await http.post(
        "/v1/chat/completions", json={**CHAT, "messages": [{"role": "user", "content": "forbidden-fruit?"}]}
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "request_refused"
    assert refused.json()["error"]["message"] == "Requests about forbidden-fruit are refused."
    assert (await http.post("/v1/chat/completions", json=CHAT)).status_code == 200


async def test_hook_mcp_response_sees_each_answer_once_with_provider_status_and_usage(fake_pm, http):
    response = await http.post("/v1/chat/completions", json=CHAT)
    assert response.json()["choices"][0]["message"]["content"] == "hello!"
    [(call, caller, outcome)] = fake_plugin.OUTCOMES
    assert call.model == "fake-1"
    assert caller.key_id is not None
    assert (outcome.provider, outcome.status) == ("fake", 200)
    assert (outcome.usage.input_tokens, outcome.usage.output_tokens) == (3, 1)


def test_hook_mcp_job_callback_translates_the_providers_report_and_leaves_others_alone(fake_pm):
    hook = fake_pm.hook.mcp_job_callback
    report = hook(provider="fake", payload={"fake_job": 42, "ok": False, "why": "upstream crashed"})
    assert (report.job_id, report.succeeded, report.error_message) == ("42", False, "upstream crashed")
    assert hook(provider="pollinations", payload={"job_id": "job-1", "status": "succeeded"}) is None
