"""OpenAPI schema generation tweaks for drf-spectacular."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as BaseAutoSchema

#: Statuses any operation can answer, whatever its own: malformed input, credentials, permission,
#: an unknown object, a wrong method, a body too large or of the wrong type, a rate limit.
COMMON_ERRORS = {
    "400": "Invalid request; `param` names the field at fault.",
    "401": "Missing or invalid credentials.",
    "403": "Not allowed.",
    "404": "Not found.",
    "405": "Wrong method; `Allow` lists the right ones.",
    "413": "The request body is too large.",
    "415": "Unsupported body media type.",
    "429": "Too many requests; see `Retry-After`.",
}


class AutoSchema(BaseAutoSchema):
    """Name components after the serializer's qualified name.

    Views nest their serializers (``ApiKeyCollectionApi.CreateInputSerializer``), so the bare class
    names collide; the qualified name (``ApiKeyCollectionApiCreateInput``) is unique and readable.
    """

    def _get_serializer_name(self, serializer: Any, direction: str, bypass_extensions: bool = False) -> str:
        name = super()._get_serializer_name(serializer, direction, bypass_extensions)
        cls = serializer if isinstance(serializer, type) else type(serializer)
        outer = cls.__qualname__.rpartition(".")[0].replace(".", "")
        return f"{outer}{name}" if outer and not name.startswith(outer) else name


def document_error_statuses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular post-processing hook: every operation documents every error status it can answer.

    All errors share one shape (``GatewayError``, added by ``gateway.openapi``) and are JSON.
    """
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/GatewayError"}}}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in COMMON_ERRORS.items():
                responses.setdefault(status, {"description": description, "content": error})
    return result
