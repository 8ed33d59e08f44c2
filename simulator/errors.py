"""Errors raised by handlers, and their rendering in each era's wire shape (API doc section 6)."""

from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from simulator.response import Response, dumps, header, json_response
from simulator.types import GEN, LEGACY_IMAGE, Headers

GEN_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    402: "PAYMENT_REQUIRED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    422: "UNPROCESSABLE_ENTITY",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}
GEN_MESSAGES = {
    400: "Invalid request. Check the request parameters against the API documentation.",
    401: (
        "Authentication required. Please provide an API key via Authorization header "
        "(Bearer token) or ?key= query parameter."
    ),
    402: "Insufficient pollen balance or API key budget exhausted. Top up at https://enter.pollinations.ai",
    403: "Access denied. Your API key does not have permission for this resource.",
    404: "The requested resource was not found.",
    405: "Method not allowed for this endpoint.",
    422: "The request could not be processed.",
    429: "Too many requests. Please slow down and retry later.",
    500: "An internal error occurred. Please retry later.",
    502: "The upstream provider returned an error.",
    503: "The service is temporarily unavailable. Please retry later.",
}
INVALID_KEY_MESSAGE = "Invalid API key. Check your key at https://enter.pollinations.ai/keys"
CONTENT_POLICY_CODE = "content_policy_violation"


class SimError(Exception):
    """An HTTP error a handler raises; rendered in the shape of the request's era.

    :param status: HTTP status code.
    :param message: human text; defaults to the era's fixed message for the status.
    :param code: gen error code; defaults to the one for ``status``.
    :param details: optional ``details`` object for the gen envelope.
    :param headers: extra response headers (e.g. ``Retry-After``).
    :param body: when set, sent verbatim as JSON instead of any era shape.
    """

    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        headers: Headers | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message or GEN_MESSAGES.get(status) or HTTPStatus(status).phrase)
        self.status = status
        self.message = str(self)
        self.code = code or GEN_CODES.get(status, "ERROR")
        self.details = details
        self.headers = headers or []
        self.body = body


class ValidationError(SimError):
    """A 400 whose ``details`` lists the offending fields, as gen's zod validation does."""

    def __init__(self, field_errors: dict[str, list[str]], form_errors: list[str] | None = None):
        details = {
            "name": "ValidationError",
            "formErrors": form_errors or [],
            "fieldErrors": field_errors,
        }
        fields = ", ".join(sorted(field_errors)) or "request"
        super().__init__(400, f"Invalid value for: {fields}", details=details)


def retry_after(seconds: int) -> Headers:
    """The ``Retry-After`` header for rate-limit style errors."""
    return [header("retry-after", seconds)]


def render_error(err: SimError, profile: str, params: dict[str, str], request_id: str) -> Response:
    """Render ``err`` as the given era sends it.

    :param params: the request's query parameters (legacy image echoes them back).
    :param request_id: identifier echoed in bodies that carry one.
    """
    if err.body is not None:
        return json_response(err.body, err.status, err.headers)
    if profile == GEN:
        error: dict[str, Any] = {
            "code": err.code,
            "message": err.message,
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "requestId": request_id,
        }
        if err.details is not None:
            error["details"] = err.details
        return json_response({"status": err.status, "success": False, "error": error}, err.status, err.headers)
    body: dict[str, Any]
    if profile == LEGACY_IMAGE:
        body = {
            "error": HTTPStatus(err.status).phrase,
            "message": err.message,
            "details": err.details,
            "debug": None,
            "timingInfo": [],
            "requestId": request_id,
            "requestParameters": params,
            "queueInfo": (err.details or {}).get("queueInfo"),
        }
        return json_response(body, err.status, [header("x-error-type", err.code), *err.headers])
    body = {"error": err.message, "status": err.status}
    if err.details is not None:
        body["details"] = err.details
    return json_response(dumps(body), err.status, err.headers)
