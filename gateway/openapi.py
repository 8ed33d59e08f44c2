"""The ``/v1`` endpoints in the project's OpenAPI schema.

They are plain async Django views on the hot path (not DRF), so drf-spectacular cannot see them; a
post-processing hook adds their description, so one schema at ``/api/schema/`` documents the
gateway and the management API together.
"""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/GatewayError"}
_ERRORS = {
    status: {"description": text, "content": {"application/json": {"schema": _ERROR}}}
    for status, text in (
        ("400", "Invalid request; `param` names the field."),
        ("401", "Missing or invalid API key."),
        ("403", "The key may not use this modality or model."),
        ("402", "The organisation's credits are spent (or the upstream asks for payment)."),
        ("404", "Unknown model."),
        ("405", "Wrong method; `Allow` lists the right ones."),
        ("413", "The request body is too large."),
        ("422", "The upstream refused the content (moderation)."),
        ("429", "A rate limit was hit; see `Retry-After` and `x-ratelimit-*`."),
        ("502", "The upstream failed or answered malformed data."),
        ("503", "No provider can serve the model now; see `Retry-After`."),
        ("504", "The upstream did not answer in time."),
    )
}
_SECURITY: list[dict[str, list[str]]] = [{"apiKeyAuth": []}]


def _json_body(schema: dict[str, Any], example: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema, "example": example}}}


def operation(
    operation_id: str,
    summary: str,
    body: dict[str, Any] | None,
    ok: dict[str, Any],
    tag: str = "gateway",
    *,
    extra: dict[str, Any] | None = None,
    parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One operation: its 200 answer ``ok`` (plus ``extra`` statuses) and every error status it can give."""
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "tags": [tag],
        "summary": summary,
        "security": _SECURITY,
        "responses": {"200": ok, **(extra or {}), **_ERRORS},
    }
    if body is not None:
        operation["requestBody"] = body
    if parameters:
        operation["parameters"] = parameters
    return operation


_STR = {"type": "string"}
_NAME = {"type": "string", "minLength": 1, "maxLength": 256}


def _number(low: float, high: float, kind: str = "number") -> dict[str, Any]:
    return {"type": kind, "minimum": low, "maximum": high}


_ROLES = ["system", "developer", "user", "assistant", "tool", "function"]
# The bounds gateway/schemas.py enforces (a body outside them is a 400 naming the field).
_CHAT = {
    "type": "object",
    "required": ["messages"],
    "properties": {
        "model": {**_NAME, "default": "openai"},
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["role"],
                "properties": {
                    "role": {"enum": _ROLES},
                    "content": {"oneOf": [_STR, {"type": "array", "items": {"type": "object"}}], "nullable": True},
                    "name": {**_STR, "maxLength": 256},
                },
            },
        },
        "stream": {"type": "boolean", "default": False},
        "stream_options": {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
        "temperature": _number(0, 2),
        "top_p": _number(0, 1),
        "n": _number(1, 128, "integer"),
        "max_tokens": _number(1, 1_048_576, "integer"),
        "max_completion_tokens": _number(1, 1_048_576, "integer"),
        "presence_penalty": _number(-2, 2),
        "frequency_penalty": _number(-2, 2),
        "seed": {
            **_number(-(2**63), 2**63 - 1, "integer"),
            "description": "With a seed (and not `private`), the answer is cached.",
        },
        "stop": {"oneOf": [_STR, {"type": "array", "items": _STR, "maxItems": 4}]},
        "logit_bias": {"type": "object", "additionalProperties": _number(-100, 100, "integer")},
        "logprobs": {"type": "boolean"},
        "top_logprobs": _number(0, 20, "integer"),
        "user": {**_STR, "maxLength": 256},
        "tools": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type"],
                "properties": {
                    "type": _NAME,
                    "function": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {**_STR, "minLength": 1, "maxLength": 64},
                            "parameters": {"type": "object"},
                        },
                    },
                },
            },
        },
        "tool_choice": {"oneOf": [_STR, {"type": "object"}]},
        "response_format": {"type": "object", "required": ["type"], "properties": {"type": _NAME}},
        "private": {"type": "boolean", "description": "Never cache this request."},
    },
    "additionalProperties": True,
}
_IMAGE = {
    "type": "object",
    "required": ["prompt"],
    "properties": {
        "prompt": {**_STR, "minLength": 1, "maxLength": 32000},
        "model": {**_NAME, "default": "flux"},
        "n": {"type": "integer", "enum": [1]},
        "size": {**_STR, "pattern": r"^\d{2,4}x\d{2,4}$", "default": "1024x1024"},
        "response_format": {"enum": ["b64_json", "url"], "default": "b64_json"},
        "seed": {"type": "integer", "minimum": -1, "maximum": 2147483647},
    },
}
_SPEECH = {
    "type": "object",
    "required": ["input"],
    "properties": {
        "input": {**_STR, "minLength": 1, "maxLength": 10000},
        "model": {**_NAME, "default": "openai-audio"},
        "voice": {**_STR, "minLength": 1, "maxLength": 64, "default": "alloy"},
        "response_format": {"enum": ["mp3", "opus", "aac", "flac", "wav", "pcm"], "default": "mp3"},
        "speed": _number(0.25, 4),
    },
}
_JSON_OK = {"description": "The upstream's answer, in OpenAI's shape.", "content": {"application/json": {}}}

PATHS: dict[str, dict[str, Any]] = {
    "/v1/chat/completions": {
        "post": operation(
            "chat_completion_create",
            "Chat completion (JSON, or SSE when stream is true)",
            _json_body(_CHAT, {"model": "openai", "messages": [{"role": "user", "content": "Hello"}]}),
            {
                "description": "A chat.completion object, or an SSE stream of chunks ending with `data: [DONE]`.",
                "content": {"application/json": {}, "text/event-stream": {}},
            },
        )
    },
    "/v1/images/generations": {
        "post": operation(
            "image_generation_create",
            "Image generation",
            _json_body(_IMAGE, {"prompt": "a lighthouse", "size": "512x512"}),
            _JSON_OK,
        )
    },
    "/v1/images/files/{filename}": {
        "get": {
            "operationId": "image_file_retrieve",
            "tags": ["gateway"],
            "summary": "A generated image, by the signed URL an images.generate(response_format=url) answer gave",
            "security": [],
            "parameters": [
                {
                    "name": "filename",
                    "in": "path",
                    "required": True,
                    "schema": {**_STR, "pattern": r"^[0-9a-f]{32}\.(jpg|png|webp|bin)$"},
                },
                {"name": "expires", "in": "query", "required": True, "schema": {"type": "integer"}},
                {"name": "signature", "in": "query", "required": True, "schema": _STR},
            ],
            "responses": {
                "200": {"description": "The image.", "content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}},
                "403": {
                    "description": "The link is invalid or has expired (`result_link_invalid`).",
                    "content": {"application/json": {"schema": _ERROR}},
                },
                "404": {
                    "description": "The image is no longer stored.",
                    "content": {"application/json": {"schema": _ERROR}},
                },
            },
        }
    },
    "/v1/audio/speech": {
        "post": operation(
            "speech_create",
            "Text to speech",
            _json_body(_SPEECH, {"input": "Hello", "voice": "nova"}),
            {
                "description": "Audio bytes, streamed, in the asked format.",
                "content": {
                    kind: {}
                    for kind in (
                        "audio/mpeg",
                        "audio/wav",
                        "audio/opus",
                        "audio/aac",
                        "audio/flac",
                        "audio/pcm",
                        "application/octet-stream",
                    )
                },
            },
        )
    },
    "/v1/audio/transcriptions": {
        "post": operation(
            "transcription_create",
            "Speech to text (multipart upload, 25 MB at most)",
            {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["file"],
                            "properties": {
                                "file": {"type": "string", "format": "binary"},
                                "model": {**_NAME, "default": "whisper-large-v3"},
                                "response_format": {
                                    "enum": ["json", "text", "srt", "vtt", "verbose_json", "diarized_json"],
                                    "default": "json",
                                },
                                "language": {**_STR, "minLength": 2, "maxLength": 16},
                                "prompt": {**_STR, "maxLength": 32000},
                                "temperature": _number(0, 1),
                            },
                        }
                    }
                },
            },
            {
                "description": "The transcription (JSON, or text for text/srt/vtt).",
                "content": {"application/json": {}, "text/plain": {}},
            },
        )
    },
    "/v1/models": {
        "get": operation(
            "models_list",
            "Models of every enabled provider (public; filtered by the key's scopes when sent)",
            None,
            _JSON_OK,
        )
    },
    "/v1/key/info": {
        "get": operation(
            "key_info_retrieve",
            "The calling key's scopes, models, limits and expiry; its organisation's plan, this period's usage, "
            "remaining quotas and credit balance (micro-credits)",
            None,
            {
                "description": "A key.info object.",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["object", "key"],
                            "properties": {
                                "object": {"enum": ["key.info"]},
                                "key": {"type": "object"},
                                "plan": {"type": "object", "nullable": True},
                                "period": {"type": "object"},
                                "quotas": {"type": "array", "items": {"type": "object"}},
                                "credit_balance": {"type": "integer", "nullable": True},
                            },
                        }
                    }
                },
            },
        )
    },
    "/v1/models/{model}": {
        "get": {
            **operation(
                "model_retrieve", "One model (public; hidden from a key whose scopes exclude it)", None, _JSON_OK
            ),
            "parameters": [{"name": "model", "in": "path", "required": True, "schema": _STR}],
        }
    },
}


def add_gateway_paths(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular post-processing hook: add the ``/v1`` operations and their shared shapes."""
    result.setdefault("paths", {}).update(PATHS)
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["GatewayError"] = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type"],
                "properties": {
                    "message": _STR,
                    "type": _STR,
                    "code": {"type": "string", "nullable": True},
                    "param": {"type": "string", "nullable": True},
                },
            }
        },
    }
    components.setdefault("securitySchemes", {})["apiKeyAuth"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "A gateway API key (mgw_…). Pollinations-style URLs may also send X-API-Key or ?key=.",
    }
    tags = result.setdefault("tags", [])
    if not any(tag.get("name") == "gateway" for tag in tags):
        tags.insert(0, {"name": "gateway", "description": "OpenAI-compatible endpoints (hot path)."})
    return result
