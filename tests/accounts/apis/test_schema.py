"""The management API is documented in the OpenAPI schema, with examples, and generates without warnings."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_schema_is_valid_openapi(schema):
    validate_schema(schema)


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/auth/token", "post"),
        ("/api/auth/token/refresh", "post"),
        ("/api/auth/register", "post"),
        ("/api/me", "get"),
        ("/api/orgs", "post"),
        ("/api/orgs/{org_slug}/keys", "post"),
        ("/api/orgs/{org_slug}/keys/{key_id}/rotate", "post"),
        ("/api/orgs/{org_slug}/invitations", "post"),
        ("/api/orgs/{org_slug}/audit-events", "get"),
    ],
)
def test_each_main_operation_is_documented_with_an_example(schema, path, method):
    operation = schema["paths"][path][method]
    assert operation["summary"]
    documented = str(operation)
    assert "examples" in documented or "example" in documented


def test_errors_are_documented_with_the_one_error_shape(schema):
    responses = schema["paths"]["/api/orgs/{org_slug}/keys"]["get"]["responses"]
    assert {"401", "403", "404"} <= set(responses)
    assert "Error" in str(responses["404"])
