"""The URL map: which handler serves each (profile, method, path), and how it is treated."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from simulator import images, speech, text
from simulator.errors import SimError
from simulator.models import (
    GEN_LIST_BODIES,
    GEN_LISTS,
    LEGACY_IMAGE_ABOUT,
    LEGACY_IMAGE_LIST,
    LEGACY_OPENAI_LIST,
    LEGACY_TEXT_LIST,
    gen_list,
    openai_list,
)
from simulator.request import Request
from simulator.response import NO_STORE_HEADERS, Response, json_response, sse_response
from simulator.state import State
from simulator.types import GEN, LEGACY_IMAGE, LEGACY_TEXT, SIM

Handler = Callable[[Request, State], Awaitable[Response]]
# Path prefixes that select a host profile; everything else is gen.pollinations.ai.
PREFIXES = ((SIM, "/_sim"), (LEGACY_IMAGE, "/legacy/image"), (LEGACY_TEXT, "/legacy/text"))
CROSSDOMAIN = b'<?xml version="1.0"?><cross-domain-policy><allow-access-from domain="*"/></cross-domain-policy>'


@dataclass(frozen=True, slots=True)
class Route:
    """A handler plus how the app treats it.

    :param generates: counts as a generation and is deduplicated while in flight.
    :param public: gen serves it without an API key.
    """

    handler: Handler
    generates: bool = True
    public: bool = False


def profile_for(path: str) -> tuple[str, str]:
    """The host profile for ``path`` and the prefix to strip from it."""
    for profile, prefix in PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            return profile, prefix
    return GEN, ""


def _static(body: bytes, no_store: bool = True) -> Handler:
    """A handler answering a pre-serialised JSON body (model lists are ``no-store``)."""
    response = json_response(body, headers=NO_STORE_HEADERS if no_store else ())

    async def handler(request: Request, state: State) -> Response:
        return response

    return handler


def _community_filter(request: Request) -> bool | None:
    """The requested ``source``/``community`` filter: True = community only, None = all."""
    source = request.query.get("source") or request.headers.get("pollinations-model-source")
    if source in ("official", "community"):
        return source == "community"
    community = request.query.get("community", "").lower()
    return {"true": True, "1": True, "false": False, "0": False}.get(community)


async def gen_models(request: Request, state: State) -> Response:
    """A gen model list, filtered by source and narrowed to a restricted key's models."""
    allowed = request.auth.models if request.auth is not None else None
    community = _community_filter(request)
    if allowed is None and community is None:
        return json_response(GEN_LIST_BODIES[request.path], headers=NO_STORE_HEADERS)
    models = tuple(
        m
        for m in GEN_LISTS[request.path]
        if (allowed is None or m.name in allowed) and community in (None, m.community)
    )
    body = openai_list(models) if request.path == "/v1/models" else gen_list(models)
    return json_response(body, headers=NO_STORE_HEADERS)


async def image_feed(request: Request, state: State) -> Response:
    """Legacy image ``GET /feed``."""
    return sse_response(state.image_feed.stream())


async def text_feed(request: Request, state: State) -> Response:
    """Legacy text ``GET /feed``."""
    return sse_response(state.text_feed.stream())


_LIST = Route(gen_models, generates=False, public=True)
GEN_EXACT = {
    **{("GET", path): _LIST for path in GEN_LISTS},
    ("POST", "/v1/chat/completions"): Route(text.chat_completions),
    ("POST", "/openai"): Route(text.chat_completions),
    ("POST", "/text"): Route(text.gen_text_post),
    ("POST", "/v1/audio/speech"): Route(speech.speech_post),
    ("POST", "/v1/audio/transcriptions"): Route(speech.transcriptions_post),
    ("POST", "/v1/images/generations"): Route(images.images_generations),
    ("POST", "/v1/images/edits"): Route(images.images_edits),
}
GEN_PREFIXED = (
    ("GET", "/image/", Route(images.gen_image)),
    ("GET", "/text/", Route(text.gen_text_get)),
    ("GET", "/audio/", Route(speech.audio_get)),
)


async def crossdomain(request: Request, state: State) -> Response:
    """Legacy image ``/crossdomain.xml`` (Flash-era policy file)."""
    return Response(200, [(b"content-type", b"application/xml")], CROSSDOMAIN)


LEGACY_IMAGE_EXACT = {
    ("GET", "/crossdomain.xml"): Route(crossdomain, generates=False),
    ("GET", "/models"): Route(_static(LEGACY_IMAGE_LIST), generates=False),
    ("GET", "/about"): Route(_static(LEGACY_IMAGE_ABOUT), generates=False),
    ("GET", "/feed"): Route(image_feed, generates=False),
}
LEGACY_TEXT_EXACT = {
    ("GET", "/"): Route(text.legacy_root, generates=False),
    ("POST", "/"): Route(text.legacy_text_post),
    ("GET", "/models"): Route(_static(LEGACY_TEXT_LIST), generates=False),
    ("GET", "/openai/models"): Route(_static(LEGACY_OPENAI_LIST), generates=False),
    ("GET", "/feed"): Route(text_feed, generates=False),
    ("POST", "/openai"): Route(text.legacy_chat),
    ("POST", "/v1/chat/completions"): Route(text.legacy_chat),
}
LEGACY_PROMPT = Route(images.legacy_image)  # GET /prompt/{prompt}
LEGACY_CHAT = Route(text.legacy_chat)  # POST /openai/*
LEGACY_TEXT_GET = Route(text.legacy_text_get)  # GET /{prompt}


def find_route(profile: str, method: str, path: str) -> Route:
    """The route for a request; 404/405 in the profile's error shape otherwise."""
    if profile == GEN:
        route = GEN_EXACT.get((method, path))
        if route is None:
            route = next((r for m, p, r in GEN_PREFIXED if m == method and path.startswith(p)), None)
        if route is not None:
            return route
        if any(p == path for _, p in GEN_EXACT) or any(path.startswith(p) for _, p, _ in GEN_PREFIXED):
            raise SimError(405)
        raise SimError(404)
    if profile == LEGACY_IMAGE:
        route = LEGACY_IMAGE_EXACT.get((method, path))
        if route is None and method == "GET" and path.startswith("/prompt/"):
            route = LEGACY_PROMPT
        if route is None:
            body = {
                "error": "Not Found",
                "message": "The requested endpoint was not found",
                "path": path,
            }
            raise SimError(404, body["message"], body=body)
        return route
    route = LEGACY_TEXT_EXACT.get((method, path))
    if route is None and method == "POST" and path.startswith("/openai/"):
        route = LEGACY_CHAT
    if route is None and method == "GET":
        route = LEGACY_TEXT_GET
    if route is None:
        raise SimError(404, f"Cannot {method} {path}")
    return route
