"""One OpenAPI schema documents the /v1 gateway and the management API; its docs page needs no CDN."""

from __future__ import annotations

import pytest
import yaml

pytestmark = pytest.mark.django_db


def test_the_schema_documents_every_v1_endpoint_with_the_error_shape(client):
    schema = yaml.safe_load(client.get("/api/schema/").content)
    for path in (
        "/v1/chat/completions",
        "/v1/images/generations",
        "/v1/audio/speech",
        "/v1/audio/transcriptions",
        "/v1/models",
    ):
        assert path in schema["paths"], path
    chat = schema["paths"]["/v1/chat/completions"]["post"]
    assert chat["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/GatewayError"
    }
    assert "apiKeyAuth" in schema["components"]["securitySchemes"]
    assert any(path.startswith("/api/") for path in schema["paths"]), "the management API is in the same schema"


def test_the_docs_page_loads_its_assets_from_the_gateway_itself(client):
    page = client.get("/api/docs/").content.decode()
    assert "cdn" not in page.lower()
    assert "/static/drf_spectacular_sidecar/" in page
