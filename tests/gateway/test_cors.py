"""Web pages on other origins call the API as they call Pollinations: a preflight is answered, every
answer to an allowed origin (errors too) may be read by the page, and nothing opens to cookies."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from mcp_site.config import load_config

PAGE = "https://app.example.com"
PREFLIGHT = {
    "Origin": PAGE,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}
CHAT = {"model": "openai", "messages": [{"role": "user", "content": "hi"}]}


async def test_a_preflight_from_any_origin_is_answered_with_what_it_may_send(anonymous):
    answer = await anonymous.options("/v1/chat/completions", headers=PREFLIGHT)
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "POST" in answer.headers["access-control-allow-methods"]
    assert answer.headers["access-control-allow-headers"] == "authorization, content-type"
    assert answer.headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in answer.headers
    assert "content-type" not in answer.headers  # no content, so no type


async def test_a_preflight_asking_for_odd_header_names_gets_the_fixed_list(anonymous):
    headers = {**PREFLIGHT, "Access-Control-Request-Headers": "authorization, <script>"}
    answer = await anonymous.options("/image/a%20cat", headers=headers)
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-headers"].startswith("Authorization, Content-Type, X-API-Key")


async def test_the_page_may_read_an_answer_and_its_headers(client):
    answer = await client.post("/v1/chat/completions", json=CHAT, headers={"Origin": PAGE})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"
    assert answer.headers["access-control-expose-headers"] == "*"  # X-Request-ID, Retry-After, usage headers


async def test_an_error_is_readable_by_the_page_too(anonymous):
    answer = await anonymous.post("/v1/chat/completions", json=CHAT, headers={"Origin": PAGE})
    assert answer.status_code == 401
    assert answer.headers["access-control-allow-origin"] == "*"
    assert answer.json()["error"]["code"] == "invalid_api_key"


async def test_a_call_without_an_origin_gets_no_cors_headers(client):
    answer = await client.post("/v1/chat/completions", json=CHAT)
    assert answer.status_code == 200
    assert not any(name.startswith("access-control-") for name in answer.headers)


async def test_an_options_request_that_is_no_preflight_is_still_refused(anonymous):
    answer = await anonymous.options("/v1/chat/completions", headers={"Origin": PAGE})
    assert answer.status_code == 405
    assert answer.json()["error"]["type"] == "invalid_request_error"


async def test_only_listed_origins_may_read_and_answers_vary_by_origin(anonymous, settings):
    settings.API_CORS_ORIGINS = (PAGE, "http://localhost:3000")
    listed = await anonymous.options("/v1/chat/completions", headers=PREFLIGHT)
    assert listed.status_code == 204 and listed.headers["access-control-allow-origin"] == PAGE
    assert "Origin" in listed.headers["vary"]

    other = {**PREFLIGHT, "Origin": "https://evil.example"}
    refused = await anonymous.options("/v1/chat/completions", headers=other)
    assert refused.status_code == 405  # no preflight answer: the browser sends nothing
    assert "access-control-allow-origin" not in refused.headers

    models = await anonymous.get("/v1/models", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in models.headers
    assert "Origin" in models.headers["vary"]  # a cache never hands one origin's answer to another


async def test_no_origin_may_read_when_the_list_is_empty(anonymous, settings):
    settings.API_CORS_ORIGINS = ()
    answer = await anonymous.options("/v1/chat/completions", headers=PREFLIGHT)
    assert answer.status_code == 405
    assert "access-control-allow-origin" not in answer.headers


async def test_the_management_api_is_not_opened_to_other_origins(anonymous):
    answer = await anonymous.options("/api/usage", headers=PREFLIGHT)
    assert "access-control-allow-origin" not in answer.headers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ("*",)),
        ("*", ("*",)),
        ("", ()),
        ("https://app.example.com, http://localhost:3000", ("https://app.example.com", "http://localhost:3000")),
    ],
)
def test_the_origins_come_from_api_cors_origins(value, expected):
    environ = {} if value is None else {"API_CORS_ORIGINS": value}
    assert load_config(environ).api_cors_origins == expected


@pytest.mark.parametrize("value", ["*, https://app.example.com", "app.example.com", "https://app.example.com/path"])
def test_an_origin_that_is_not_one_stops_start_up(value):
    with pytest.raises(ImproperlyConfigured, match="API_CORS_ORIGINS"):
        load_config({"API_CORS_ORIGINS": value})
