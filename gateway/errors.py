"""Gateway errors and their one JSON shape, OpenAI's: ``{"error": {"message", "type", "code", "param"}}``.

Every exception raised on the hot path becomes a response here, and only here. Messages are
written for the caller; nothing from a traceback, an upstream host or a credential reaches them.
"""

from __future__ import annotations

import json
import math

from django.http import HttpResponse

from plugins.errors import UpstreamError


class GatewayError(Exception):
    """An answer the gateway gives instead of the upstream's.

    :param status: HTTP status.
    :param message: what happened and what to do next.
    :param type: OpenAI error type (``invalid_request_error``, ``authentication_error``, ...).
    :param code: a stable machine-readable code.
    :param param: the request field at fault, if one is.
    :param headers: extra response headers (``Retry-After``, ``x-ratelimit-*``).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}


def invalid(message: str, *, param: str | None = None, code: str = "invalid_value") -> GatewayError:
    return GatewayError(400, message, param=param, code=code)


def method_not_allowed(*allowed: str) -> GatewayError:
    """405 with the ``Allow`` header listing what the endpoint accepts."""
    methods = ", ".join(allowed)
    return GatewayError(405, f"Use {' or '.join(allowed)} for this endpoint.", code="method_not_allowed",
                        headers={"Allow": methods})  # fmt: skip


def body_too_large(limit: int) -> GatewayError:
    return GatewayError(413, f"The request body is larger than {limit / 2**20:g} MB.", code="body_too_large")


def not_found() -> GatewayError:
    return GatewayError(404, "Unknown URL. GET /api/docs/ lists the API.", type="not_found_error", code="not_found")


def unauthenticated() -> GatewayError:
    return GatewayError(
        401,
        "Invalid or missing API key. Send it as 'Authorization: Bearer <key>'.",
        type="authentication_error",
        code="invalid_api_key",
    )


def not_permitted(message: str, *, param: str | None = None) -> GatewayError:
    return GatewayError(403, message, type="permission_error", code="not_permitted", param=param)


def model_not_found(model: str) -> GatewayError:
    return GatewayError(
        404, f"The model {model!r} does not exist or is not served here. GET /v1/models lists the models.",
        code="model_not_found", param="model",
    )  # fmt: skip


def no_provider_available(retry_after: float | None) -> GatewayError:
    """Every provider serving the model has its circuit open: no attempt was made."""
    seconds = max(1, math.ceil(retry_after or 1))
    return GatewayError(
        503,
        f"No provider can serve this model right now. Retry in {seconds} s.",
        type="service_unavailable",
        code="no_provider_available",
        headers={"Retry-After": str(seconds)},
    )


def upstream_timeout() -> GatewayError:
    return GatewayError(
        504, "The upstream provider did not answer in time.", type="upstream_error", code="upstream_timeout"
    )


def from_upstream(error: UpstreamError) -> GatewayError:
    """The last upstream failure, as the caller's answer: its honest class and the upstream's own ``Retry-After``."""
    status = error.client_status
    if error.timeout:
        return GatewayError(504, error.client_message, type="upstream_error", code="upstream_timeout")
    headers = {}
    if error.retry_after is not None and status in (429, 503):
        headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
    if status == 429:
        return GatewayError(429, error.client_message, type="rate_limit_error", code="upstream_rate_limited",
                            headers=headers)  # fmt: skip
    if status == 503:
        return GatewayError(503, error.client_message, type="service_unavailable", code="upstream_unavailable",
                            headers=headers)  # fmt: skip
    if 400 <= status < 500:
        return GatewayError(status, error.client_message, code="upstream_rejected")
    return GatewayError(status, error.client_message, type="upstream_error", code="upstream_error")


def error_body(error: GatewayError) -> bytes:
    return json.dumps(
        {"error": {"message": error.message, "type": error.type, "code": error.code, "param": error.param}}
    ).encode()


def error_response(error: GatewayError) -> HttpResponse:
    response = HttpResponse(error_body(error), status=error.status, content_type="application/json")
    for name, value in error.headers.items():
        response[name] = value
    return response


INTERNAL_ERROR = GatewayError(
    500, "The gateway failed to handle this request. It has been logged.", type="server_error", code="internal_error"
)
#: The database is unreachable (restarting, failing over) and the request needed it: a clear 503, not a 500.
DATABASE_UNAVAILABLE = GatewayError(
    503,
    "The gateway's database is unavailable right now. Retry in a few seconds.",
    type="service_unavailable",
    code="database_unavailable",
    headers={"Retry-After": "2"},
)


def sse_error_event(error: GatewayError) -> bytes:
    """A final SSE event for failures after the first byte: a second response is impossible then."""
    return b"data: " + error_body(error) + b"\n\n"
