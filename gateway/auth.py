"""Step 1 and 2 of the hot path: who is calling, and may they use this modality and model."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl

from django.http import HttpRequest

from accounts.keyauth import InvalidApiKey, KeyIdentity, extract_api_key, resolve_api_key
from core import tracing
from core.diagnostics import observe_phase
from core.errors import not_permitted, unauthenticated


def _header_map(request: HttpRequest) -> dict[str, str]:
    scope = getattr(request, "scope", None)
    if scope is None:  # a WSGI request (management tooling): same headers, another container
        return {name.lower(): value for name, value in request.headers.items()}
    # ASGI header names are already lower-case bytes.
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


def _query_key(request: HttpRequest) -> str | None:
    query = request.META.get("QUERY_STRING", "")
    if "key=" not in query:
        return None
    for name, value in parse_qsl(query):
        if name == "key":
            return value
    return None


async def authenticate(request: HttpRequest) -> KeyIdentity:
    """Resolve the caller's API key (``Authorization: Bearer``, ``X-API-Key`` or ``?key=``).

    :raises HttpError: 401 with one message whatever was wrong with the key.
    """
    started = time.perf_counter()
    try:
        identity = await resolve_api_key(extract_api_key(_header_map(request), _query_key(request)))
    except InvalidApiKey:
        raise unauthenticated() from None
    observe_phase("key", time.perf_counter() - started)
    # On the request's span, so its traces can be found by organisation and key. (A key the process
    # had to look up has an ``mcp.key.resolve`` span of its own; one it knew costs no span.)
    tracing.annotate({"mcp.organization_id": identity.organization_id, "mcp.key_id": identity.key_id})
    return identity


def authorize(identity: KeyIdentity, *, modality: str, model: str) -> None:
    """Refuse a modality or model outside the key's scopes (403, as Pollinations does)."""
    if not identity.allows_modality(modality):
        raise not_permitted(f"This API key is not allowed to use the {modality} modality.", param="model")
    if not identity.allows_model(model):
        raise not_permitted(f"Model {model!r} is not allowed for this API key.", param="model")
