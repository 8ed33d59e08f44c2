"""The official openai SDK works against the gateway unchanged, for every modality."""

from __future__ import annotations

import base64
import io

import openai
import pytest
from PIL import Image

from tests.gateway.conftest import asgi_client

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def sdk(gateway_settings, api_key):
    async with asgi_client() as http:
        yield openai.AsyncOpenAI(base_url="http://testserver/v1", api_key=api_key, http_client=http, max_retries=0)


async def test_chat(sdk):
    completion = await sdk.chat.completions.create(model="openai", messages=[{"role": "user", "content": "hi"}])
    assert completion.choices[0].message.content
    assert completion.usage.total_tokens > 0


async def test_streaming_chat(sdk):
    stream = await sdk.chat.completions.create(
        model="openai", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
    assert text


async def test_images(sdk):
    result = await sdk.images.generate(model="flux", prompt="a lighthouse", size="256x256")
    assert Image.open(io.BytesIO(base64.b64decode(result.data[0].b64_json))).size == (256, 256)


async def test_speech_and_transcription(sdk):
    speech = await sdk.audio.speech.create(
        model="openai-audio", voice="alloy", input="gateways are fast", response_format="wav"
    )
    audio = speech.content
    assert audio[:4] == b"RIFF"
    transcript = await sdk.audio.transcriptions.create(model="whisper-1", file=("speech.wav", audio, "audio/wav"))
    assert "gateways are fast" in transcript.text


async def test_models(sdk):
    ids = {model.id async for model in sdk.models.list()}
    assert {"openai", "flux", "openai-audio"} <= ids


async def test_errors_surface_as_the_sdks_own_exceptions(sdk):
    with pytest.raises(openai.NotFoundError) as info:
        await sdk.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    assert info.value.code == "model_not_found"
    bad = openai.AsyncOpenAI(
        base_url="http://testserver/v1",
        api_key="mgw_wrong",  # pragma: allowlist secret
        http_client=sdk._client,
        max_retries=0,
    )
    with pytest.raises(openai.AuthenticationError):
        await bad.chat.completions.create(model="openai", messages=[{"role": "user", "content": "hi"}])
