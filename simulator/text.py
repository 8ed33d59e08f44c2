"""Text endpoints of both eras: chat completions, ``/text/{prompt}``, and the legacy text host."""

import base64
from typing import Any

from simulator import auth
from simulator.audio import CONTENT_TYPES
from simulator.chat_request import MAX_SEED, ChatRequest, parse_chat, resolve_seed
from simulator.completion import Completion, complete
from simulator.errors import SimError
from simulator.models import DEFAULT_TEXT_MODEL, TEXT_BY_NAME
from simulator.params import (
    FieldErrors,
    lenient_bool,
    lenient_int,
    strict_bool,
    strict_enum,
    strict_int,
)
from simulator.request import Request
from simulator.response import (
    IMMUTABLE,
    Response,
    binary_response,
    header,
    json_response,
    sse_response,
    text_response,
)
from simulator.state import State
from simulator.streaming import chat_events

DOCS_URL = "https://github.com/pollinations/pollinations/blob/master/APIDOCS.md"
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
AUDIO_MODEL = "openai-audio"
_TEXT_QUERY_FIELDS = ("temperature", "top_p", "presence_penalty", "frequency_penalty")


def _usage_headers(completion: Completion) -> list[tuple[bytes, bytes]]:
    """``x-model-used`` and the ``x-usage-*`` token headers."""
    return [
        header("x-model-used", completion.model),
        header("x-usage-prompt-text-tokens", completion.prompt_tokens),
        header("x-usage-completion-text-tokens", completion.completion_tokens),
        header("x-usage-total-tokens", completion.prompt_tokens + completion.completion_tokens),
    ]


def _openai_response(chat: ChatRequest, completion: Completion) -> Response:
    """The chat completion as OpenAI JSON, or as SSE when streaming."""
    if chat.stream:
        return sse_response(chat_events(completion, chat.include_usage), [header("x-model-used", chat.model)])
    return json_response(completion.body(), headers=_usage_headers(completion))


def _direct_response(chat: ChatRequest, completion: Completion) -> Response:
    """The assistant content itself: plain text, audio bytes, a message object, or SSE."""
    if chat.stream:
        return _openai_response(chat, completion)
    headers = [(b"cache-control", IMMUTABLE), *_usage_headers(completion)]
    if completion.audio:
        content_type = CONTENT_TYPES[chat.audio_format or "mp3"]
        return binary_response(base64.b64decode(completion.audio["data"]), content_type, headers)
    if completion.content is None:  # e.g. only tool_calls: the message object as JSON
        return json_response(completion.message(), headers=headers)
    return text_response(completion.content, headers=headers)


def _query_chat(prompt: str, query: dict[str, str], model: str, seed: int, json_mode: bool) -> ChatRequest:
    """A chat request built from ``/text/{prompt}`` style query parameters."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
    if query.get("system"):
        messages.insert(0, {"role": "system", "content": query["system"]})
    chat = ChatRequest(
        model=model,
        messages=messages,
        seed=resolve_seed(seed),
        json_mode=json_mode,
        stream=query.get("stream", "").lower() in ("true", "1"),
    )
    if model == AUDIO_MODEL:
        chat.audio_format, chat.voice = "mp3", query.get("voice") or "alloy"
    return chat


async def chat_completions(request: Request, state: State) -> Response:
    """gen ``POST /v1/chat/completions`` and its ``/openai`` alias."""
    chat = parse_chat(request.json_object(), strict=True)
    auth.check_model(request, chat.model)
    return _openai_response(chat, complete(chat))


async def gen_text_post(request: Request, state: State) -> Response:
    """gen ``POST /text``: a chat body answered with the content directly."""
    chat = parse_chat(request.json_object(), strict=True)
    auth.check_model(request, chat.model)
    return _direct_response(chat, complete(chat))


async def gen_text_get(request: Request, state: State) -> Response:
    """gen ``GET /text/{prompt}``."""
    prompt = request.tail("/text/")
    query = request.query
    errors = FieldErrors()
    if not prompt:
        errors.add("prompt", "String must contain at least 1 character(s)")
    model = TEXT_BY_NAME[strict_enum(query, "model", TEXT_BY_NAME, DEFAULT_TEXT_MODEL, errors)].name
    seed = strict_int(query, "seed", 0, -1, MAX_SEED, errors)
    json_mode = strict_bool(query, "json", errors)
    strict_bool(query, "stream", errors)
    strict_enum(query, "reasoning_effort", REASONING_EFFORTS, "medium", errors)
    for name in _TEXT_QUERY_FIELDS:
        if query.get(name) and not _is_number(query[name]):
            errors.add(name, "Expected number")
    errors.raise_if_any()
    auth.check_model(request, model)
    chat = _query_chat(prompt, query, model, seed, json_mode)
    return _direct_response(chat, complete(chat))


def _is_number(text: str) -> bool:
    """Whether ``text`` parses as a float."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _legacy_model(name: str, tier: str) -> str:
    """Resolve a legacy text model: 404 when unknown, 402 when above the user's tier."""
    model = TEXT_BY_NAME.get(name)
    if model is None:
        raise SimError(404, f"Model not found: {name}")
    if not auth.tier_allows(tier, model.tier):
        raise SimError(402, f"Model '{model.name}' requires the {model.tier} tier or higher")
    return model.name


def _publish(state: State, request: Request, chat: ChatRequest, completion: Completion) -> None:
    """Send a legacy text feed event (section 5) unless the request was private."""
    event = {
        "response": completion.content,
        "parameters": {
            "model": chat.model,
            "messages": chat.messages,
            "seed": chat.seed,
            "usage": completion.usage(),
        },
        "ip": request.client_ip,
    }
    state.text_feed.publish(event)


async def legacy_chat(request: Request, state: State) -> Response:
    """Legacy ``POST /openai``, ``/openai/*`` and ``/v1/chat/completions`` (always private)."""
    tier = auth.legacy_tier(auth.extract_token(request))
    chat = parse_chat(request.json_object(), strict=False)
    chat.model = _legacy_model(chat.model, tier)
    return _openai_response(chat, complete(chat, legacy=True, user_tier=tier))


async def legacy_text_post(request: Request, state: State) -> Response:
    """Legacy ``POST /``: a chat body answered with plain text."""
    tier = auth.legacy_tier(auth.extract_token(request))
    body = request.json()
    if not isinstance(body, dict):
        body = {}
    chat = parse_chat(body, strict=False)
    chat.model = _legacy_model(chat.model, tier)
    completion = complete(chat, legacy=True, user_tier=tier)
    if not lenient_bool(body.get("private")):
        _publish(state, request, chat, completion)
    return _direct_response(chat, completion)


async def legacy_text_get(request: Request, state: State) -> Response:
    """Legacy ``GET /{prompt}``: plain text, or ``audio/mpeg`` for ``openai-audio``."""
    tier = auth.legacy_tier(auth.extract_token(request))
    query = request.query
    model = _legacy_model(query.get("model") or DEFAULT_TEXT_MODEL, tier)
    seed = lenient_int(query.get("seed"), 0, -1, MAX_SEED)
    chat = _query_chat(request.tail("/"), query, model, seed, lenient_bool(query.get("json")))
    completion = complete(chat, legacy=True, user_tier=tier)
    if not lenient_bool(query.get("private")):
        _publish(state, request, chat, completion)
    return _direct_response(chat, completion)


async def legacy_root(request: Request, state: State) -> Response:
    """Legacy ``GET /``: a redirect to the API documentation."""
    return Response(301, [header("location", DOCS_URL), (b"content-type", b"text/plain")], b"Moved")
