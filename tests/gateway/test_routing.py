"""One routing decision for every path: the hot path, Django, the legacy text catch-all, or a JSON 404/405.

Every answer here is the one error shape, and nothing reserved ever reaches the upstream.
"""

from __future__ import annotations

import pytest

from tests.gateway.conftest import upstream_requests

pytestmark = pytest.mark.django_db(transaction=True)

RESERVED = [
    "/api/nonexistent",
    "/api/v2/things/1",
    "/robots.txt",
    "/accounts/profile/",
    "/.well-known/security.txt",
    "/static/nope.css",
    "/media/nope.png",
    "/ws/nope",
    "/v1/nonexistent",
    "/v1/chat/completions/extra",
    "/api/orgs/%0A%26x",
]


def assert_error_shape(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code", "param"}
    assert error["message"]
    return error


@pytest.mark.parametrize("path", RESERVED)
async def test_reserved_paths_nothing_claims_are_a_json_404_and_never_a_prompt(client, anonymous, upstream, path):
    for http in (client, anonymous):
        assert_error_shape(await http.get(path), 404)
    assert upstream_requests(upstream) == []


@pytest.mark.parametrize("path", ["/textbook", "/openaiisnice", "/modelsofcars", "/imagine", "/audiophile"])
async def test_paths_that_only_start_like_a_route_are_legacy_text_prompts(client, upstream, path):
    response = await client.get(path)
    assert response.status_code == 200, response.text
    [sent] = upstream_requests(upstream)
    assert sent["path"].endswith(path)


async def test_the_legacy_catch_all_without_a_key_is_a_json_401_not_a_500(anonymous, upstream):
    error = assert_error_shape(await anonymous.get("/some prompt"), 401)
    assert error["type"] == "authentication_error"
    assert upstream_requests(upstream) == []


@pytest.mark.parametrize("path", ["/", "/keys/", "/favicon.ico"])
async def test_the_site_root_dashboard_and_favicon_are_not_legacy_text_prompts(client, upstream, path):
    response = await client.get(path)
    assert response.status_code in (200, 204, 302), response.status_code
    assert upstream_requests(upstream) == []


async def test_the_favicon_is_an_untyped_empty_answer_browsers_keep_for_a_day(client):
    response = await client.get("/favicon.ico")
    assert (response.status_code, response.content) == (204, b"")
    assert "content-type" not in response.headers
    assert response.headers["cache-control"] == "public, max-age=86400"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/v1/chat/completions", "POST"),
        ("GET", "/v1/images/generations", "POST"),
        ("DELETE", "/v1/audio/speech", "POST"),
        ("POST", "/v1/models", "GET, HEAD"),
        ("PATCH", "/v1/jobs", "POST, GET"),
        ("PUT", "/image/a cat", "GET, POST"),
        ("DELETE", "/textbook", "GET, POST"),
    ],
)
async def test_a_wrong_method_is_a_405_with_allow(client, upstream, method, path, allow):
    response = await client.request(method, path)
    assert_error_shape(response, 405)
    assert response.headers["Allow"] == allow
    assert upstream_requests(upstream) == []


async def test_a_wrong_method_on_the_management_api_is_a_json_405_with_allow(anonymous):
    response = await anonymous.put("/api/auth/token", json={})
    assert_error_shape(response, 405)
    assert "POST" in response.headers["Allow"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("OPTIONS", "/api/docs/"),  # was a 500: DRF rendered its metadata with the HTML page's template renderer
        ("DELETE", "/api/docs/"),  # was an HTML page
        ("PUT", "/api/schema/"),  # was the error in YAML
        ("TRACE", "/accounts/login/"),  # was an empty text/html answer
        ("TRACE", "/admin/login/"),
    ],
)
async def test_a_wrong_method_on_the_sites_pages_is_a_json_405_with_allow(anonymous, method, path):
    response = await anonymous.request(method, path)
    assert_error_shape(response, 405)
    assert response.headers["Content-Type"] == "application/json"
    assert "GET" in response.headers["Allow"] and method not in response.headers["Allow"]


@pytest.mark.parametrize("model", ["whisper-large-v3", "whisper-1", "elevenlabs"])
async def test_a_chat_with_an_audio_model_that_does_not_chat_is_refused_before_the_upstream(client, upstream, model):
    response = await client.post(
        "/v1/chat/completions", json={"model": model, "messages": [{"role": "user", "content": "hi"}]}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "model_not_supported"
    assert not upstream_requests(upstream, "/v1/chat/completions")


async def test_openai_audio_still_chats(client):
    response = await client.post(
        "/v1/chat/completions", json={"model": "openai-audio", "messages": [{"role": "user", "content": "hi"}]}
    )
    assert response.status_code == 200, response.text
