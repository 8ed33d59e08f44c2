"""OpenAI-compatible endpoints under ``/v1``: the paths, bodies and answers of OpenAI's API."""

from __future__ import annotations

import time

from django.http import HttpRequest, HttpResponseBase, JsonResponse

from core.errors import READ_METHODS, HttpError, invalid, require_method
from gateway import images, validation
from gateway.auth import authenticate
from gateway.errors import model_not_found
from gateway.handler import GatewayRequest
from gateway.pipeline import proxy
from plugins.registry import get_registry
from plugins.types import ProviderCall

MAX_TRANSCRIPTION_BYTES = 25 * 1024 * 1024


async def chat_completions(request: GatewayRequest) -> HttpResponseBase:
    require_method(request.method, "POST")
    identity = await authenticate(request)
    payload = validation.json_object(request)
    chat = validation.chat_request(payload)
    call = ProviderCall("chat", chat.model, "text", request.request_id, payload=payload, stream=chat.stream)
    return await proxy(call, identity, request, private=chat.private)


async def image_generations(request: GatewayRequest) -> HttpResponseBase:
    require_method(request.method, "POST")
    identity = await authenticate(request)
    payload = validation.json_object(request)
    image = validation.image_request(payload)
    as_url = images.wants_url(payload)
    call = ProviderCall("image", image.model, "image", request.request_id, payload=payload)
    response = await proxy(call, identity, request, private=image.private)
    return await images.answer_with_urls(response, request) if as_url else response


async def audio_speech(request: GatewayRequest) -> HttpResponseBase:
    require_method(request.method, "POST")
    identity = await authenticate(request)
    payload = validation.json_object(request)
    speech = validation.speech_request(payload)
    call = ProviderCall("speech", speech.model, "audio", request.request_id, payload=payload)
    return await proxy(call, identity, request)


async def audio_transcriptions(request: GatewayRequest) -> HttpResponseBase:
    require_method(request.method, "POST")
    identity = await authenticate(request)
    if not (request.content_type or "").startswith("multipart/form-data"):
        raise invalid(
            "Upload the audio as multipart/form-data with a 'file' field.", param="file", code="invalid_content_type"
        )
    if len(request.body) > MAX_TRANSCRIPTION_BYTES + 64 * 1024:
        raise HttpError(413, "The audio file is larger than 25 MB.", param="file", code="file_too_large")
    try:
        form, files = request.POST, request.FILES
    except Exception:  # noqa: BLE001 - Django raises several types for a malformed multipart body.
        raise invalid("The multipart body could not be parsed.", param="file", code="invalid_multipart") from None
    upload = files.get("file")
    if upload is None or upload.size == 0:
        raise invalid(
            "'file' is required: the audio to transcribe, as a file part with a filename in UTF-8 "
            "(a part without one is a plain field, not a file).",
            param="file",
            code="missing_field",
        )
    if (upload.size or 0) > MAX_TRANSCRIPTION_BYTES:
        raise HttpError(413, "The audio file is larger than 25 MB.", param="file", code="file_too_large")
    fields = validation.transcription_form(validation.single_valued(form, files))
    call = ProviderCall(
        "transcription",
        fields.model,
        "audio",
        request.request_id,
        body=request.body,
        content_type=request.META["CONTENT_TYPE"],
    )
    return await proxy(call, identity, request)


async def _listed_models(request: HttpRequest) -> list[dict]:
    """Every model of every enabled provider, in OpenAI's shape, filtered by the key's scopes when one is sent."""
    sends_key = "HTTP_AUTHORIZATION" in request.META or "HTTP_X_API_KEY" in request.META
    identity = await authenticate(request) if sends_key else None
    registry = await get_registry()
    created = int(time.time())
    data = []
    for provider, model in registry.models():
        if identity is not None and not (identity.allows_modality(model.modality) and identity.allows_model(model.id)):
            continue
        data.append(
            {
                "id": model.id,
                "object": "model",
                "created": created,
                "owned_by": model.owned_by or provider.name,
                "modality": model.modality,
                "capabilities": list(model.capabilities),
            }
        )
    return data


async def models(request: HttpRequest) -> JsonResponse:
    """Every model of every enabled provider (public, as upstream), filtered by the key's scopes when one is sent."""
    require_method(request.method, *READ_METHODS)
    return JsonResponse({"object": "list", "data": await _listed_models(request)})


async def model_detail(request: HttpRequest, model_id: str) -> JsonResponse:
    """One model as ``GET /v1/models`` lists it; 404 ``model_not_found`` when unknown (or hidden from the key)."""
    require_method(request.method, *READ_METHODS)
    found = next((model for model in await _listed_models(request) if model["id"] == model_id), None)
    if found is None:
        raise model_not_found(model_id)
    return JsonResponse(found)
