"""GET /v1/models: every enabled provider's models merged; filtered by the key's scopes."""

from __future__ import annotations

import httpx
import openai
import pytest

from plugins.models import ProviderConfig
from plugins.registry import reset_registry

pytestmark = pytest.mark.django_db(transaction=True)


async def test_models_of_every_modality_are_listed_without_a_key(anonymous):
    response = await anonymous.get("/v1/models")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    ids = {m["id"] for m in body["data"]}
    assert {"openai", "flux", "openai-audio", "whisper-large-v3"} <= ids


async def test_a_scoped_key_sees_only_the_models_it_may_use(client, amake_key):
    text_only = await amake_key(scopes=("text",))
    response = await client.get("/v1/models", headers={"Authorization": f"Bearer {text_only}"})
    assert {m["modality"] for m in response.json()["data"]} == {"text"}


async def test_a_configured_openai_compatible_provider_adds_its_models(anonymous):
    await ProviderConfig.objects.acreate(
        name="vllm-local",
        kind="openai-compatible",
        base_url="http://127.0.0.1:9/v1",
        served_models={"llama-3-8b": "text"},
    )
    reset_registry()
    ids = {m["id"] for m in (await anonymous.get("/v1/models")).json()["data"]}
    assert "llama-3-8b" in ids
    assert "openai" in ids


async def test_a_misconfigured_provider_is_skipped_and_the_list_still_answers(anonymous):
    await ProviderConfig.objects.acreate(name="broken", kind="openai-compatible", base_url="")
    await ProviderConfig.objects.acreate(name="unknown-kind", kind="not-installed", base_url="http://x")
    reset_registry()
    response = await anonymous.get("/v1/models")
    assert response.status_code == 200
    assert "openai" in {m["id"] for m in response.json()["data"]}


async def test_one_model_is_retrieved_with_the_openai_sdk(client, api_key):
    from mcp_site.asgi import application

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application)) as http:
        sdk = openai.AsyncOpenAI(base_url="http://testserver/v1", api_key=api_key, http_client=http, max_retries=0)
        model = await sdk.models.retrieve("flux")
        assert (model.id, model.object) == ("flux", "model")
        with pytest.raises(openai.NotFoundError) as info:
            await sdk.models.retrieve("no-such-model")
    assert info.value.body["code"] == "model_not_found"


async def test_an_unknown_model_is_404_in_the_error_shape(anonymous):
    response = await anonymous.get("/v1/models/no-such/model")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"
    assert response.json()["error"]["param"] == "model"


async def test_an_unknown_model_id_of_any_length_is_repeated_only_in_part(anonymous):
    response = await anonymous.get("/v1/models/" + "m" * 60_000)
    assert response.status_code == 404
    message = response.json()["error"]["message"]
    assert "m" * 100 + "…" in message and len(message) < 300


async def test_a_model_outside_the_keys_scopes_is_404_for_that_key(client, amake_key):
    text_only = await amake_key(scopes=("text",))
    response = await client.get("/v1/models/flux", headers={"Authorization": f"Bearer {text_only}"})
    assert response.status_code == 404
    assert (await client.get("/v1/models/openai", headers={"Authorization": f"Bearer {text_only}"})).status_code == 200


async def test_retrieving_a_model_with_post_is_405(anonymous):
    assert (await anonymous.post("/v1/models/flux")).status_code == 405
