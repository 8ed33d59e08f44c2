"""The example package ``examples/mcp-gateway-echo-provider``: installed as pip would, served end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async

from plugins import manager
from plugins.models import ProviderConfig
from plugins.registry import install_plugin_manager, provider_classes
from plugins.services import provider_config_save
from tests.conftest import ROOT
from tests.plugins.distributions import install_distribution

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLE = ROOT / "examples" / "mcp-gateway-echo-provider"
CHAT = {"model": "echo-1", "messages": [{"role": "user", "content": "Hello plugin world"}]}


def _entry_points_of_the_example() -> dict[str, str]:
    """The entry points the example's own pyproject.toml declares, so the test follows the package."""
    import tomllib

    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    return dict(project["entry-points"][manager.ENTRY_POINT_GROUP])


@pytest.fixture
def echo_installed(monkeypatch, tmp_path: Path, restore_plugins):
    """The example installed (``pip install -e`` style) and the gateway's plugins rebuilt from entry points."""
    install_distribution(
        monkeypatch,
        tmp_path / "site",
        name="mcp-gateway-echo-provider",
        version="1.0.0",
        entry_points=_entry_points_of_the_example(),
        source_dirs=(EXAMPLE,),
    )
    return install_plugin_manager(manager.build_plugin_manager())


def test_the_example_is_loaded_through_its_entry_point(echo_installed):
    [info] = [i for i in manager.plugin_infos(echo_installed) if i.name == "echo"]
    assert (info.package, info.version, info.builtin) == ("mcp-gateway-echo-provider", "1.0.0", False)
    assert info.hooks == ("mcp_provider_classes", "mcp_request", "mcp_response")
    assert provider_classes()["echo"].__module__ == "mcp_gateway_echo.provider"
    assert manager.BROKEN == []


async def test_the_example_answers_a_chat_completion_locally(echo_installed, http):
    response = await http.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "echo: Hello plugin world"}
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}


async def test_the_example_streams_openai_chunks_ending_with_done(echo_installed, http):
    response = await http.post("/v1/chat/completions", json={**CHAT, "stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line[6:] for line in response.text.split("\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    # The gateway asked for usage to bill it, and hides that chunk from a client that did not ask.
    assert all(c["choices"] for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "echo: Hello plugin world"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


async def test_the_example_streams_the_usage_chunk_when_the_client_asks(echo_installed, http):
    response = await http.post(
        "/v1/chat/completions", json={**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    )
    chunks = [json.loads(line[6:]) for line in response.text.split("\n") if line.startswith("data: {")]
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["total_tokens"] == 7


async def test_the_example_refuses_prompts_with_the_configured_word(echo_installed, http, monkeypatch):
    monkeypatch.setenv("MCP_ECHO_REFUSE_WORD", "Plugin")
    response = await http.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "request_refused"


async def test_the_example_counts_answers_in_its_response_hook(echo_installed, http):
    from mcp_gateway_echo import ANSWERS

    ANSWERS.clear()
    await http.post("/v1/chat/completions", json=CHAT)
    await http.post("/v1/chat/completions", json={**CHAT, "stream": True})
    assert ANSWERS[("echo", 200)] == 2


async def test_the_example_model_is_listed(echo_installed, http):
    listed = (await http.get("/v1/models")).json()["data"]
    assert "echo-1" in {model["id"] for model in listed}


def test_blocking_the_example_by_entry_point_name_leaves_it_out(echo_installed):
    pm = manager.build_plugin_manager(blocked=("echo",))
    assert not pm.has_plugin("echo")
    assert pm.is_blocked("echo")


async def test_an_admin_row_named_echo_changes_its_prefix(echo_installed, http):
    await sync_to_async(provider_config_save)(config=ProviderConfig(name="echo", kind="echo", options={"prefix": "> "}))
    answer = (await http.post("/v1/chat/completions", json=CHAT)).json()
    assert answer["choices"][0]["message"]["content"] == "> Hello plugin world"
