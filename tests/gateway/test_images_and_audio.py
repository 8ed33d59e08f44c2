"""Images and audio through /v1: real image and audio bytes, result caching, upload limits."""

from __future__ import annotations

import base64
import io

import pytest
from asgiref.sync import sync_to_async
from PIL import Image

from accounts.services import api_key_create, organization_create
from tests.gateway.conftest import ALL_SCOPES, upstream_requests

pytestmark = pytest.mark.django_db(transaction=True)


async def test_an_image_is_generated_at_the_requested_size_as_b64_json(client):
    response = await client.post("/v1/images/generations", json={"prompt": "a red fox", "size": "256x128"})
    assert response.status_code == 200, response.text
    [item] = response.json()["data"]
    image = Image.open(io.BytesIO(base64.b64decode(item["b64_json"])))
    assert image.size == (256, 128)


async def test_a_seeded_image_is_cached_and_served_again_without_the_upstream(client, upstream):
    body = {"prompt": "a cached fox", "size": "64x64", "seed": 7}
    first = await client.post("/v1/images/generations", json=body)
    second = await client.post("/v1/images/generations", json=body)
    assert first.headers["X-Cache"] == "MISS"
    assert second.headers["X-Cache"] == "HIT"
    assert first.content == second.content
    assert len(upstream_requests(upstream, "/v1/images/generations")) == 1


async def test_a_cached_image_is_not_served_to_another_organisation(client, upstream, gateway_settings):
    body = {"prompt": "a fox of one tenant", "size": "64x64", "seed": 11}
    assert (await client.post("/v1/images/generations", json=body)).headers["X-Cache"] == "MISS"

    other_key = await sync_to_async(_key_of_another_organisation)()
    other = await client.post("/v1/images/generations", json=body, headers={"Authorization": f"Bearer {other_key}"})
    assert other.status_code == 200 and other.headers["X-Cache"] == "MISS"
    assert len(upstream_requests(upstream, "/v1/images/generations")) == 2


def _key_of_another_organisation() -> str:
    organization = organization_create(name="Globex", slug="globex")
    return api_key_create(organization=organization, name="theirs", scopes=ALL_SCOPES)[1]


async def test_private_or_unseeded_images_are_never_cached(client, upstream):
    for body in ({"prompt": "fox", "size": "64x64", "seed": 8, "private": True}, {"prompt": "fox", "size": "64x64"}):
        await client.post("/v1/images/generations", json=body)
        response = await client.post("/v1/images/generations", json=body)
        assert "X-Cache" not in response.headers
    assert len(upstream_requests(upstream, "/v1/images/generations")) == 4


async def test_an_upstream_error_is_never_cached(client, upstream):
    body = {"prompt": "fox", "size": "64x64", "seed": 9}
    failed = await client.post("/v1/images/generations", json=body, headers={"X-Sim-Fault": "status=422"})
    assert failed.status_code == 422
    ok = await client.post("/v1/images/generations", json=body)
    assert ok.status_code == 200
    assert ok.headers["X-Cache"] == "MISS"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"size": "64x64"}, "prompt"),
        ({"prompt": "fox", "n": 2}, "n"),
        ({"prompt": "fox", "size": "huge"}, "size"),
        ({"prompt": "fox", "size": "9000x9000"}, "size"),
        ({"prompt": "fox", "response_format": "png"}, "response_format"),
        ({"prompt": "fox", "seed": "x"}, "seed"),
    ],
)
async def test_invalid_image_requests_are_refused_naming_the_field(client, body, param):
    response = await client.post("/v1/images/generations", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


async def test_speech_is_returned_as_audio_bytes(client):
    response = await client.post(
        "/v1/audio/speech", json={"model": "openai-audio", "input": "Hello there", "voice": "nova"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/mpeg"
    assert response.content[:3] == b"ID3" or response.content[0] == 0xFF


async def test_speech_input_is_validated_at_the_edge(client, upstream):
    response = await client.post("/v1/audio/speech", json={"input": ""})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "input"
    assert upstream_requests(upstream, "/v1/audio") == []


async def test_a_wav_file_is_transcribed(client):
    speech = await client.post("/v1/audio/speech", json={"input": "the quick brown fox", "response_format": "wav"})
    response = await client.post(
        "/v1/audio/transcriptions",
        files={"file": ("speech.wav", speech.content, "audio/wav")},
        data={"model": "whisper-1"},
    )
    assert response.status_code == 200, response.text
    assert "quick brown fox" in response.json()["text"]


async def test_a_transcription_without_a_file_is_refused(client):
    response = await client.post("/v1/audio/transcriptions", data={"model": "whisper-1"}, files={"other": ("x", b"1")})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "file"


@pytest.mark.parametrize("repeated", ["model", "file"])
async def test_a_transcription_field_sent_twice_is_refused_before_reaching_the_upstream(client, upstream, repeated):
    """The upload is forwarded as sent: a second ``model`` (or file) the upstream might read instead of
    the one the gateway checked, authorised and billed must not get through."""
    parts = [("model", (None, "whisper-1")), ("file", ("a.wav", b"RIFF0000WAVE", "audio/wav"))]
    parts.append(
        ("model", (None, "whisper-large-v3")) if repeated == "model" else ("file", ("b.wav", b"RIFF", "audio/wav"))
    )
    response = await client.post("/v1/audio/transcriptions", files=parts)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_value", repeated)
    assert upstream_requests(upstream, "/v1/audio") == []


async def test_an_oversized_upload_is_refused_with_413_before_reaching_the_upstream(client, upstream):
    response = await client.post(
        "/v1/audio/transcriptions",
        content=b"x" * (27 * 1024 * 1024),
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code == 413
    assert upstream_requests(upstream, "/v1/audio") == []
