"""Pollinations-native URLs: existing Pollinations clients change only the host."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from simulator.auth import fingerprint
from tests.gateway.conftest import upstream_requests

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_gen_image_url_returns_the_image_at_the_requested_size(client):
    response = await client.get("/image/a%20lighthouse%20at%20dusk?width=320&height=200&seed=5&model=flux")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("image/")
    assert Image.open(io.BytesIO(response.content)).size == (320, 200)


async def test_the_key_may_come_as_a_query_parameter_and_is_never_forwarded(anonymous, upstream, api_key):
    response = await anonymous.get(f"/image/a%2Fslashed%20prompt?width=64&height=64&key={api_key}&nologo=true")
    assert response.status_code == 200
    [sent] = upstream_requests(upstream, "/image/")
    assert sent["path"] == "/image/a%2Fslashed%20prompt" or sent["path"] == "/image/a/slashed prompt"
    assert "nologo=true" in sent["query"]
    assert fingerprint(api_key) not in sent["query"]
    assert "key=" not in sent["query"]


async def test_a_repeated_parameter_is_forwarded_once_with_the_value_the_gateway_checked(client, upstream):
    """The gateway validates, authorises and bills a parameter's first value; the upstream must not
    get a second one it might prefer (a model the key may not use, a size not paid for)."""
    response = await client.get("/image/cat?seed=&model=flux&width=64&model=gptimage&width=abc&height=64&seed=3&nologo")
    assert response.status_code == 200, response.text
    [sent] = upstream_requests(upstream, "/image/")
    assert sent["query"] == "model=flux&width=64&height=64&seed=3&nologo"


async def test_the_key_may_come_as_x_api_key(anonymous, api_key):
    response = await anonymous.get("/text/hello?model=openai", headers={"X-API-Key": api_key})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text


async def test_a_legacy_image_url_goes_to_the_legacy_image_host(client, upstream):
    response = await client.get("/prompt/a%20cat?width=64&height=64")
    assert response.status_code == 200
    assert upstream_requests(upstream, "/legacy/image/prompt/")


async def test_a_legacy_transparent_image_the_upstream_labels_jpeg_arrives_as_the_png_it_is(client):
    # The legacy image host serves transparent=true as PNG bytes under Content-Type: image/jpeg.
    response = await client.get("/prompt/a%20logo?width=32&height=32&transparent=true")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(response.content)).mode == "RGBA"


@pytest.mark.parametrize(
    ("url", "upstream_prefix"),
    [
        ("/image/two%0Alines?width=64&height=64", "/image/"),
        ("/text/two%0Alines", "/text/"),
        ("/audio/two%0Alines", "/audio/"),
        ("/prompt/two%0Alines?width=64&height=64", "/legacy/image/prompt/"),
    ],
)
async def test_a_prompt_with_an_encoded_newline_stays_on_its_own_route(client, upstream, url, upstream_prefix):
    """Not taken for a legacy text prompt (which would answer text about "image/two lines" and bill it as text)."""
    response = await client.get(url)
    assert response.status_code == 200, response.text
    assert upstream_requests(upstream, upstream_prefix)
    assert not upstream_requests(upstream, "/legacy/text/")


async def test_a_model_id_with_an_encoded_newline_is_an_unknown_model(client):
    response = await client.get("/v1/models/a%0Ab")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"


async def test_a_legacy_text_url_at_the_root_goes_to_the_legacy_text_host(gateway_settings, api_key, upstream):
    from django.test import AsyncClient

    response = await AsyncClient().get("/what%20is%20a%20gateway", headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 200
    assert upstream_requests(upstream, "/legacy/text/")


async def test_an_openai_client_using_the_legacy_openai_base_url_reaches_the_legacy_text_host(client, upstream):
    # Pollinations told OpenAI SDK users to set base_url="https://text.pollinations.ai/openai"; the SDK
    # then posts to /openai/chat/completions, which only the legacy text host serves.
    body = {"model": "openai", "messages": [{"role": "user", "content": "hi"}]}
    response = await client.post("/openai/chat/completions", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"]
    assert upstream_requests(upstream, "/legacy/text/openai/chat/completions")


async def test_the_bare_openai_path_still_goes_to_the_gen_host(client, upstream):
    body = {"model": "openai", "messages": [{"role": "user", "content": "hi"}]}
    response = await client.post("/openai", json=body)
    assert response.status_code == 200, response.text
    assert upstream_requests(upstream, "/openai")


async def test_native_generation_needs_a_key(anonymous):
    response = await anonymous.get("/image/a%20cat")
    assert response.status_code == 401


async def test_a_native_request_for_a_modality_outside_the_scopes_is_403(client, amake_key):
    text_only = await amake_key(scopes=("text",))
    response = await client.get("/image/cat", headers={"Authorization": f"Bearer {text_only}"})
    assert response.status_code == 403


async def test_text_to_speech_by_url_uses_the_audio_scope(client, amake_key):
    text_only = await amake_key(scopes=("text",))
    response = await client.get(
        "/text/hello?model=openai-audio&voice=nova", headers={"Authorization": f"Bearer {text_only}"}
    )
    assert response.status_code == 403
    ok = await client.get("/audio/hello%20world?voice=nova")
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("audio/")


@pytest.mark.parametrize("path", ["/image/models", "/text/models", "/audio/models", "/models"])
async def test_model_lists_are_public_and_relayed_in_the_upstream_shape(anonymous, path):
    response = await anonymous.get(path)
    assert response.status_code == 200
    assert isinstance(response.json(), list)
    assert response.headers["Cache-Control"] == "no-store"


async def test_a_streamed_text_url_is_relayed_as_sse(client):
    response = await client.get("/text/tell%20me%20a%20story?stream=true")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "data: [DONE]" in response.text
