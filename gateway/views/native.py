"""Pollinations-native URLs, so existing Pollinations clients only change the host.

The path and query are forwarded byte for byte (prompts may hold encoded ``/``, ``?`` or ``%``),
minus the caller's gateway key (``key``/``token`` parameters); the gateway adds its own upstream
key. Model ids are the upstream's own (``flux``, ``openai``, ``openai-audio``…).

A path holding a dot segment (``.`` or ``..``, raw or percent-encoded, between ``/`` or ``\\``,
encoded or not) is refused before anything is sent: forwarded raw, an upstream that normalises
paths would serve another of its endpoints with the gateway's own key.
"""

from __future__ import annotations

import contextlib
import re
import time
from urllib.parse import parse_qsl, quote, unquote, unquote_plus

from django.http import HttpRequest, HttpResponseBase

from core.errors import READ_METHODS, HttpError, not_found, require_method
from gateway import usage, validation
from gateway.auth import authenticate
from gateway.dispatch import open_upstream
from gateway.handler import GatewayRequest
from gateway.pipeline import proxy
from gateway.relay import relay
from gateway.streamed import StreamedAnswer
from plugins.registry import Route, get_registry
from plugins.types import Caller, Modality, ProviderCall, is_modality

#: Query parameters that carry the caller's credentials: never forwarded upstream.
_CREDENTIAL_PARAMS = frozenset({"key", "token"})
DEFAULT_MODELS: dict[Modality, str] = {"image": "flux", "text": "openai", "audio": "openai-audio"}


def _raw_path(request: HttpRequest) -> str:
    raw = request.scope.get("raw_path") if hasattr(request, "scope") else None
    return raw.decode("latin-1").split("?", 1)[0] if raw else quote(request.path)


_SEPARATORS = re.compile(r"[/\\]")
#: How many rounds of percent-decoding an upstream (or a proxy before it) might apply.
_DECODING_ROUNDS = 3


def _has_dot_segment(path: str) -> bool:
    """Whether ``path`` names ``.`` or ``..`` as a segment under any decoding an upstream may apply
    (``%2e%2e``, ``%252E.``, ``..%2f``, ``..;x``, backslashes…)."""
    for _ in range(_DECODING_ROUNDS):
        segments = (segment.split(";", 1)[0] for segment in _SEPARATORS.split(path))
        if any(segment in (".", "..") for segment in segments):
            return True
        decoded = unquote(path, errors="replace")
        if decoded == path:
            return False
        path = decoded
    return "%" in path  # still decoding after every round: refuse rather than guess


def _checked_raw_path(request: HttpRequest) -> str:
    """The path to forward, byte for byte; refused when it holds a dot segment."""
    path = _raw_path(request)
    if _has_dot_segment(path):
        raise HttpError(
            400,
            "The path may not contain '.' or '..' segments, encoded or not: percent-encode "
            "'/' and '.' inside a prompt as part of the text, or drop the segment.",
            param="path",
            code="invalid_path",
        )
    return path


def _forwarded_query(request: HttpRequest) -> str:
    """The query as sent, minus the credentials and any value of a parameter but the one checked.

    Only a parameter's first non-blank value is validated, authorised and billed
    (:func:`_first_values`), so that is the one the upstream gets: never a second ``model`` or
    ``width`` it might prefer. A parameter given only blank (``nologo``, ``seed=``) is passed once.
    """
    parts = [(part, *(unquote_plus(side) for side in part.partition("=")[::2])) for part in _query_parts(request)]
    valued = {name for _, name, value in parts if value}
    kept, seen = [], set(_CREDENTIAL_PARAMS)
    for part, name, value in parts:
        if name not in seen and (value or name not in valued):
            seen.add(name)
            kept.append(part)
    return "&".join(kept)


def _query_parts(request: HttpRequest) -> list[str]:
    return [part for part in request.META.get("QUERY_STRING", "").split("&") if part]


def _first_values(request: HttpRequest) -> dict[str, str]:
    """Each query parameter's first value."""
    values: dict[str, str] = {}
    for key, value in parse_qsl(request.META.get("QUERY_STRING", "")):
        values.setdefault(key, value)
    return values


async def _generate(request: GatewayRequest, *, host: str, modality: Modality) -> HttpResponseBase:
    require_method(request.method, "GET", "POST")
    raw_path = _checked_raw_path(request)
    identity = await authenticate(request)
    query = validation.native_query(_first_values(request))
    body, model = None, query.model
    if request.method == "POST":
        payload = validation.json_object(request)
        # A text POST is a chat body (Pollinations' POST / and /openai); others carry query-like fields.
        typed = validation.chat_request(payload) if modality == "text" else validation.native_query(payload)
        model = typed.model if "model" in payload else model
        body = request.body
    call = ProviderCall(
        "native",
        model or DEFAULT_MODELS[modality],
        modality,
        request.request_id,
        body=body,
        content_type=request.META.get("CONTENT_TYPE") or None,
        method=request.method,
        raw_path=raw_path,
        raw_query=_forwarded_query(request),
        host=host,
        stream=bool(query.stream),
    )
    return await proxy(call, identity, request, private=bool(query.private))


async def gen_image(request: GatewayRequest, prompt: str) -> HttpResponseBase:
    return await _generate(request, host="gen", modality="image")


async def legacy_image(request: GatewayRequest, prompt: str) -> HttpResponseBase:
    return await _generate(request, host="image", modality="image")


async def gen_text(request: GatewayRequest, prompt: str = "") -> HttpResponseBase:
    return await _generate(request, host="gen", modality="text")


async def legacy_text(request: GatewayRequest, prompt: str = "") -> HttpResponseBase:
    return await _generate(request, host="text", modality="text")


async def gen_audio(request: GatewayRequest, text: str) -> HttpResponseBase:
    return await _generate(request, host="gen", modality="audio")


async def model_list(request: GatewayRequest, modality: str = "text", host: str = "gen") -> HttpResponseBase:
    """A Pollinations model list, relayed from the upstream in its own shape (public, like upstream)."""
    require_method(request.method, *READ_METHODS)
    if not is_modality(modality):
        raise not_found()
    started = time.perf_counter()
    registry = await get_registry()
    provider = registry.native_provider(modality)
    if provider is None:
        raise HttpError(404, "No provider serves this model list.", code="not_found")
    call = ProviderCall(
        "native",
        "",
        modality,
        request.request_id,
        method="GET",
        raw_path=_raw_path(request),
        raw_query=_forwarded_query(request),
        host=host,
    )
    routes = [Route(provider, next(m for m in provider.models() if "native" in m.operations))]
    provider, upstream = await open_upstream(call, routes)
    # Model lists are public: nobody is billed for them (organisation 0 in the usage report).
    public = Caller(organization_id=0)
    body = relay(
        upstream,
        provider=provider,
        call=call,
        delivered=lambda outcome: usage.report(call=call, caller=public, outcome=outcome),
        started=started,
        sse=False,
    )
    # The upstream answer is closed with the body, even one never read (the client gone before it).
    owner = contextlib.AsyncExitStack()
    owner.push_async_callback(upstream.close)
    response = StreamedAnswer(body, owner=owner, status=upstream.status, content_type=upstream.content_type)
    response["Cache-Control"] = "no-store"
    return response
