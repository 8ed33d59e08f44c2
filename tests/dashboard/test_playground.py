"""Playground runs: through the gateway's /v1 views with a per-session key the browser never sees; by role."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from accounts.models import ApiKey
from accounts.services import api_key_revoke
from tests.gateway.conftest import gateway_settings  # noqa: F401 - the simulator-backed gateway settings

pytestmark = pytest.mark.django_db(transaction=True)
CSRF = "a" * 32
CHAT = {"model": "openai", "messages": [{"role": "user", "content": "Hello"}]}


@pytest.fixture
def browser_session(member, gateway_settings) -> Callable:  # noqa: F811 - the imported fixture, requested
    """An ASGI client of the whole site carrying a signed-in session and a CSRF token, as a browser would."""

    async def make(role: str) -> httpx.AsyncClient:
        from mcp_site.asgi import application

        user = await sync_to_async(member)(role)
        client = Client()
        await sync_to_async(client.force_login)(user)
        cookies = {"sessionid": client.cookies["sessionid"].value, "csrftoken": CSRF}
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application),
            base_url="http://testserver",
            cookies=cookies,
            headers={"X-CSRFToken": CSRF},
            timeout=30,
        )

    return make


@pytest.fixture
async def developer(browser_session) -> AsyncIterator[httpx.AsyncClient]:
    async with await browser_session("developer") as http:
        yield http


async def _playground_keys() -> list[ApiKey]:
    return [key async for key in ApiKey.objects.filter(name__startswith="Playground · ").select_related("created_by")]


async def test_a_run_is_answered_by_the_gateway_with_a_key_made_for_the_session(developer):
    response = await developer.post("/playground/run/chat/", json=CHAT)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"]
    assert "mgw_" not in response.text and response.headers["Cache-Control"] == "no-store"
    [key] = await _playground_keys()
    assert key.created_by.email.startswith("user") and key.revoked_at is None and key.expires_at is not None
    assert (await developer.post("/playground/run/chat/", json=CHAT)).status_code == 200
    assert len(await _playground_keys()) == 1


async def test_a_revoked_playground_key_is_replaced_at_the_next_run(developer):
    await developer.post("/playground/run/chat/", json=CHAT)
    [key] = await _playground_keys()
    await sync_to_async(api_key_revoke)(api_key=key)
    response = await developer.post("/playground/run/chat/", json=CHAT)
    assert response.status_code == 200
    assert [k.revoked_at is None for k in await _playground_keys()].count(True) == 1


async def test_the_gateways_refusal_reaches_the_page_in_its_own_shape(developer):
    response = await developer.post("/playground/run/chat/", json={"model": "openai", "messages": "nope"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages"


@pytest.mark.parametrize("role", ["billing", "viewer"])
async def test_roles_that_may_not_call_the_gateway_are_refused(browser_session, role):
    async with await browser_session(role) as http:
        response = await http.post("/playground/run/chat/", json=CHAT)
        assert response.status_code == 403
        assert "does not allow" in response.json()["error"]["message"]
        assert (await http.get("/playground/")).status_code == 403
    assert await _playground_keys() == []


def signed_out_client() -> httpx.AsyncClient:
    """A browser with its CSRF token and no session."""
    from mcp_site.asgi import application

    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application),
        base_url="http://testserver",
        cookies={"csrftoken": CSRF},
        headers={"X-CSRFToken": CSRF},
    )


async def test_a_signed_out_caller_is_asked_to_sign_in(gateway_settings):  # noqa: F811
    async with signed_out_client() as http:
        response = await http.post("/playground/run/chat/", json=CHAT)
    assert response.status_code == 401


async def test_a_run_without_the_csrf_token_is_refused(developer):
    developer.headers.pop("X-CSRFToken")
    assert (await developer.post("/playground/run/chat/", json=CHAT)).status_code == 403


def test_the_cost_of_a_request_id_no_request_can_have_is_not_recorded_rather_than_an_error(signed_in, org):
    # A NUL cannot be stored, so no request has it; asking must not reach PostgreSQL (a 500).
    response = signed_in("developer").get("/playground/cost/a%00b/")
    assert response.status_code == 200, response.content[:200]
    assert response.json() == {"recorded": False, "cost": None, "credits": None}


ERROR_FIELDS = {"message", "type", "code", "param"}


async def test_the_playgrounds_own_refusals_have_the_one_error_shape(browser_session, gateway_settings):  # noqa: F811
    async with await browser_session("developer") as http:
        unknown = await http.post("/playground/run/zzz/", json=CHAT)
    async with await browser_session("viewer") as http:
        forbidden = await http.post("/playground/run/chat/", json=CHAT)
    async with signed_out_client() as http:
        signed_out = await http.post("/playground/run/chat/", json=CHAT)
    for response, status, code in (
        (unknown, 404, "not_found"),
        (forbidden, 403, "not_permitted"),
        (signed_out, 401, "not_signed_in"),
    ):
        assert response.status_code == status
        assert set(response.json()["error"]) == ERROR_FIELDS
        assert response.json()["error"]["code"] == code


async def test_an_uploaded_audio_file_is_transcribed_when_the_csrf_check_has_read_the_form(developer):
    # A browser's upload is multipart with the CSRF token among its fields: the CSRF check parses the
    # form before the view runs, and the run is answered all the same, with the file and every field.
    speech = await developer.post("/playground/run/speech/", json={"model": "openai-audio", "input": "the quick fox"})
    assert speech.status_code == 200, speech.text
    response = await developer.post(
        "/playground/run/transcription/",
        data={"model": "whisper-large-v3", "response_format": "verbose_json", "csrfmiddlewaretoken": CSRF},
        files={"file": ('a "quoted" name.mp3', speech.content, "audio/mpeg")},
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["text"]
    assert "segments" in answer  # the form's other fields reached the gateway too


async def test_each_form_offers_the_provider_s_usual_model_first(developer):
    page = await developer.get("/playground/")
    assert page.status_code == 200
    html = page.text
    # The catalogue's own order, not the alphabet's (which put deepseek-reasoning and elevenlabs first).
    for usual, other in (("openai", "deepseek-reasoning"), ("openai-audio", "elevenlabs")):
        assert html.index(f"<option>{usual}</option>") < html.index(f"<option>{other}</option>")
