"""The one error hierarchy and its one JSON shape, OpenAI's: ``{"error": {"message", "type", "code", "param"}}``.

:class:`ApplicationError` is the root: a refusal the caller can act on, carrying its HTTP status, an
OpenAI-style ``type``, a stable ``code``, the ``param`` at fault and extra response ``headers``. The
apps name their refusals as subclasses (``<app>/exceptions.py``); a one-off answer is an
:class:`HttpError`, its status and code given where it is raised. Every one of them is rendered
here: :func:`error_response` (``/v1``, Django's error pages), :func:`sse_error_event` (after the
first byte of a stream) and :meth:`ApplicationError.as_dict` (the ``/api`` exception handler). Messages
are written for the caller; nothing from a traceback, an upstream host or a credential reaches them.
"""

from __future__ import annotations

import json

from django.http import HttpResponse

__all__ = [
    "DATABASE_UNAVAILABLE",
    "INTERNAL_ERROR",
    "ApplicationError",
    "HttpError",
    "body_too_large",
    "error_body",
    "error_dict",
    "error_response",
    "invalid",
    "method_not_allowed",
    "not_found",
    "not_permitted",
    "sse_error_event",
    "unauthenticated",
]

ErrorDict = dict[str, dict[str, str | None]]


#: The status a request is logged, billed and reported with when its client left before the answer
#: was complete (nginx's convention; never sent, there is nobody to send it to).
STATUS_CLIENT_CLOSED = 499


def error_dict(message: str, type_: str, code: str | None, param: str | None = None) -> ErrorDict:
    """The error shape, as a mapping."""
    return {"error": {"message": message, "type": type_, "code": code, "param": param}}


class ApplicationError(Exception):
    """Base class: a refusal the caller can act on.

    Subclasses set ``status``, ``type``, ``code`` and a default ``message`` as class attributes.

    :param message: what happened and what to do next (the class's default when omitted).
    :param param: the request field at fault, if one is.
    :param code: a more precise stable code than the class's.
    :param headers: extra response headers (``Retry-After``, ``x-ratelimit-*``).
    """

    status: int = 400
    type: str = "invalid_request_error"
    code: str | None = "invalid_request"
    message: str = "The request could not be completed."

    def __init__(
        self,
        message: str | None = None,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.message
        self.param = param
        if code:
            self.code = code
        self.headers = headers or {}
        super().__init__(self.message)

    def as_dict(self) -> ErrorDict:
        return error_dict(self.message, self.type, self.code, self.param)


class HttpError(ApplicationError):
    """A one-off answer given instead of the upstream's: status, type and code chosen where it is raised.

    :param status: HTTP status.
    :param message: what happened and what to do next.
    :param type: OpenAI error type (``invalid_request_error``, ``authentication_error``, ...).
    :param code: a stable machine-readable code.
    :param param: the request field at fault, if one is.
    :param headers: extra response headers (``Retry-After``, ``x-ratelimit-*``).
    """

    code = None

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
        super().__init__(message, param=param, headers=headers)
        # As given, even empty: the class's default message is for named refusals only.
        self.message = message
        self.args = (message,)
        self.status = status
        self.type = type
        self.code = code


def invalid(message: str, *, param: str | None = None, code: str = "invalid_value") -> HttpError:
    return HttpError(400, message, param=param, code=code)


def method_not_allowed(*allowed: str) -> HttpError:
    """405 with the ``Allow`` header listing what the endpoint accepts."""
    methods = ", ".join(allowed)
    return HttpError(
        405, f"Use {' or '.join(allowed)} for this endpoint.", code="method_not_allowed", headers={"Allow": methods}
    )


#: What a resource that is only read answers (operations endpoints, model lists, key info, file links):
#: GET, and HEAD for its headers alone (the server leaves the body out).
READ_METHODS = ("GET", "HEAD")


def require_method(method: str | None, *allowed: str) -> None:
    """Raise :func:`method_not_allowed` unless ``method`` is one of ``allowed``."""
    if method not in allowed:
        raise method_not_allowed(*allowed)


def body_too_large(limit: int) -> HttpError:
    return HttpError(413, f"The request body is larger than {limit / 2**20:g} MB.", code="body_too_large")


def not_found() -> HttpError:
    return HttpError(404, "Unknown URL. GET /api/docs/ lists the API.", type="not_found_error", code="not_found")


def unauthenticated() -> HttpError:
    return HttpError(
        401,
        "Invalid or missing API key. Send it as 'Authorization: Bearer <key>'.",
        type="authentication_error",
        code="invalid_api_key",
    )


def not_permitted(message: str, *, param: str | None = None) -> HttpError:
    return HttpError(403, message, type="permission_error", code="not_permitted", param=param)


INTERNAL_ERROR = HttpError(
    500, "The gateway failed to handle this request. It has been logged.", type="server_error", code="internal_error"
)


def unavailable(message: str, *, code: str, retry_after: int) -> HttpError:
    """503: a service the request needs is unreachable for now (ours: the caller may retry as told)."""
    return HttpError(503, message, type="service_unavailable", code=code, headers={"Retry-After": str(retry_after)})


#: The database is unreachable (restarting, failing over) and the request needed it: a clear 503, not a 500.
DATABASE_UNAVAILABLE = unavailable(
    "The gateway's database is unavailable right now. Retry in a few seconds.",
    code="database_unavailable",
    retry_after=2,
)


def error_body(error: ApplicationError) -> bytes:
    return json.dumps(error.as_dict()).encode()


def error_response(error: ApplicationError) -> HttpResponse:
    response = HttpResponse(error_body(error), status=error.status, content_type="application/json")
    for name, value in error.headers.items():
        response[name] = value
    return response


def sse_error_event(error: ApplicationError) -> bytes:
    """A final SSE event for failures after the first byte: a second response is impossible then."""
    return b"data: " + error_body(error) + b"\n\n"
