"""OpenAPI schema generation tweaks for drf-spectacular."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema as BaseAutoSchema


class AutoSchema(BaseAutoSchema):
    """Name components after the serializer's qualified name.

    Views nest their serializers (``ApiKeyCollectionApi.CreateInputSerializer``), so the bare class
    names collide; the qualified name (``ApiKeyCollectionApiCreateInput``) is unique and readable.
    """

    def _get_serializer_name(self, serializer, direction, bypass_extensions=False) -> str:
        name = super()._get_serializer_name(serializer, direction, bypass_extensions)
        cls = serializer if isinstance(serializer, type) else type(serializer)
        outer = cls.__qualname__.rpartition(".")[0].replace(".", "")
        return f"{outer}{name}" if outer and not name.startswith(outer) else name
