"""The ``/v1/jobs`` endpoints in the project's OpenAPI schema (hot-path views, invisible to drf-spectacular)."""

from __future__ import annotations

from typing import Any

from gateway.openapi import PATHS as GATEWAY_PATHS
from gateway.openapi import operation

_JOB = {"description": "The job: id, status, links, result when done.", "content": {"application/json": {}}}
_REQUEST = {
    kind: GATEWAY_PATHS[path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    for kind, path in (
        ("image", "/v1/images/generations"),
        ("text", "/v1/chat/completions"),
        ("speech", "/v1/audio/speech"),
    )
}
_SUBMIT = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["kind", "request"],
                        "properties": {
                            "kind": {"enum": [kind]},
                            "request": schema,
                            "webhook": {
                                "type": "object",
                                "required": ["url"],
                                "properties": {
                                    "url": {"type": "string", "format": "uri"},
                                    "secret": {"type": "string"},
                                },
                            },
                        },
                    }
                    for kind, schema in _REQUEST.items()
                ]
            },
            "example": {"kind": "image", "request": {"prompt": "a lighthouse", "size": "512x512"}},
        }
    },
}
_JOB_ID = [{"name": "job_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}]

PATHS: dict[str, dict[str, Any]] = {
    "/v1/jobs": {
        "post": operation(
            "job_create",
            "Submit a job (202 with its id; 200 for a repeated Idempotency-Key)",
            _SUBMIT,
            _JOB,
            tag="jobs",
            extra={"202": _JOB},
        ),
        "get": operation(
            "job_list",
            "The organisation's jobs, newest first",
            None,
            {"description": "A page of jobs.", "content": {"application/json": {}}},
            tag="jobs",
            parameters=[
                {"name": name, "in": "query", "schema": schema}
                for name, schema in (
                    ("status", {"type": "string"}),
                    ("kind", {"type": "string"}),
                    ("before", {"type": "string", "format": "date-time"}),
                    ("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
                )
            ],
        ),
    },
    "/v1/jobs/{job_id}": {
        "get": operation("job_get", "A job", None, _JOB, tag="jobs", parameters=_JOB_ID),
        "delete": operation("job_cancel", "Cancel a job", None, _JOB, tag="jobs", parameters=_JOB_ID),
    },
}


def add_job_paths(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular post-processing hook: add the ``/v1/jobs`` operations."""
    result.setdefault("paths", {}).update(PATHS)
    return result
