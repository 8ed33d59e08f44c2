"""The pipeline's pure steps: which client headers reach the upstream, and what a routed call must pass
before it is billed (the key's scopes, then the ``mcp_request`` hooks, failing closed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import RequestFactory

from accounts.types import KeyIdentity
from core.errors import HttpError
from gateway.pipeline import caller_of, forwarded_headers, screen
from plugins.hookspecs import hookimpl
from plugins.registry import install_plugin_manager
from plugins.types import Caller, ProviderCall
from tests.plugins import fake_plugin
from tests.plugins.conftest import build_pm, restore_plugins  # noqa: F401 - a fixture used below

# --- forwarded headers -----------------------------------------------------------------------------


@pytest.fixture
def forwarding(settings):
    settings.MCP_FORWARD_HEADERS = ["X-Sim-Fault", "traceparent"]
    return settings


def test_only_the_allowed_headers_are_forwarded(forwarding):
    request = RequestFactory().post(
        "/v1/chat/completions",
        headers={
            "X-Sim-Fault": "slow",
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "Authorization": "Bearer sk-secret",
            "Cookie": "sessionid=abc",
            "X-Forwarded-For": "10.0.0.1",
        },
    )

    assert forwarded_headers(request) == {
        "X-Sim-Fault": "slow",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    }


@pytest.mark.parametrize("sent_as", ["x-sim-fault", "X-SIM-FAULT", "X-Sim-Fault"])
def test_header_names_match_whatever_their_case(forwarding, sent_as):
    request = RequestFactory().get("/v1/models", headers={sent_as: "error-500"})

    assert forwarded_headers(request) == {"X-Sim-Fault": "error-500"}


def test_nothing_is_forwarded_when_no_header_is_allowed(settings):
    settings.MCP_FORWARD_HEADERS = []
    request = RequestFactory().get("/v1/models", headers={"X-Sim-Fault": "slow", "traceparent": "00-1-2-01"})

    assert forwarded_headers(request) == {}


# --- screening -------------------------------------------------------------------------------------

SCREENED: list[ProviderCall] = []


class Screening:
    """Records every call its ``mcp_request`` hook sees and amends it, the way a guardrail plugin may."""

    @hookimpl
    def mcp_request(self, call: ProviderCall, caller: Caller) -> str | None:
        SCREENED.append(call)
        if call.payload is not None:
            call.payload["user"] = f"org-{caller.organization_id}"
        return None


class Crashing:
    @hookimpl
    def mcp_request(self, call: ProviderCall, caller: Caller) -> str | None:
        raise RuntimeError("the guardrail service is down")


@pytest.fixture
def plugins(restore_plugins) -> Iterator[None]:  # noqa: F811 - the imported fixture
    SCREENED.clear()
    install_plugin_manager(build_pm(fake_plugin, Screening()))
    yield
    SCREENED.clear()


def identity(*, scopes: tuple[str, ...] = ("text", "image", "audio"), models: tuple[str, ...] = ()) -> KeyIdentity:
    return KeyIdentity(
        key_id=7,
        key_prefix="sk-test",
        organization_id=3,
        organization_slug="acme",
        user_id=None,
        scopes=frozenset(scopes),
        allowed_models=frozenset(models),
    )


def chat(content: str = "Name a colour.", **fields: Any) -> ProviderCall:
    return ProviderCall(
        operation="chat",
        model=fields.pop("model", "openai"),
        modality=fields.pop("modality", "text"),
        request_id="r",
        payload={"messages": [{"role": "user", "content": content}]},
        **fields,
    )


def screened(call: ProviderCall, key: KeyIdentity) -> None:
    screen(call, key, caller_of(key))


def test_a_call_within_the_keys_scopes_passes_and_the_hooks_may_amend_it(plugins):
    call = chat()

    screened(call, identity())

    assert [call] == SCREENED
    assert call.payload is not None and call.payload["user"] == "org-3"


def test_a_modality_outside_the_keys_scopes_is_refused_with_403_before_any_hook_sees_it(plugins):
    with pytest.raises(HttpError) as refused:
        screened(chat(model="flux", modality="image"), identity(scopes=("text",)))

    assert refused.value.status == 403
    assert refused.value.code == "not_permitted"
    assert SCREENED == []


def test_a_model_outside_the_keys_allowed_models_is_refused_with_403(plugins):
    with pytest.raises(HttpError) as refused:
        screened(chat(model="mistral"), identity(models=("openai",)))

    assert refused.value.status == 403
    assert "mistral" in refused.value.message
    assert SCREENED == []


def test_a_refusing_hook_refuses_the_call_with_400_and_its_reason(plugins):
    with pytest.raises(HttpError) as refused:
        screened(chat(f"Tell me about {fake_plugin.REFUSED_WORD}."), identity())

    assert refused.value.status == 400
    assert refused.value.code == "request_refused"
    assert fake_plugin.REFUSED_WORD in refused.value.message


def test_a_crashing_hook_refuses_the_call_with_500_rather_than_waving_it_through(restore_plugins):  # noqa: F811
    install_plugin_manager(build_pm(fake_plugin, Crashing()))

    with pytest.raises(HttpError) as refused:
        screened(chat(), identity())

    assert refused.value.status == 500
    assert refused.value.code == "plugin_error"
    assert "guardrail" not in refused.value.message  # the plugin's own error is logged, not shown
