"""One exception handler for ``/api``: every error is ``{"error": {"message", "type", "code", "param"}}``.

The same shape the gateway answers on ``/v1`` (OpenAI's), built by :mod:`core.errors`; DRF's own
exceptions are mapped to it here. Authentication failures say nothing about
which part of a token was wrong.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from core.errors import ApplicationError
from core.errors import error_dict as error_body

__all__ = ["exception_handler"]


def _first_field_error(detail: Any, path: str = "") -> tuple[str | None, str]:
    """The first (param, message) of a nested DRF validation error, with a dotted param path."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = path if key == "non_field_errors" else (f"{path}.{key}" if path else str(key))
            return _first_field_error(value, name)
    if isinstance(detail, list) and detail:
        if all(isinstance(item, str) for item in detail):
            return path or None, str(detail[0])
        for index, item in enumerate(detail):
            if item:
                return _first_field_error(item, f"{path}.{index}" if path else str(index))
    return path or None, str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        headers = dict(exc.headers)
        if exc.status == status.HTTP_401_UNAUTHORIZED:
            headers.setdefault("WWW-Authenticate", 'Bearer realm="api"')
        return Response(exc.as_dict(), status=exc.status, headers=headers)
    if isinstance(exc, Http404):
        return Response(error_body("Not found.", "not_found_error", "not_found"), status=404)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        param, message = _first_field_error(exc.detail)
        return Response(error_body(message, "invalid_request_error", "invalid_value", param), status=400)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return Response(
            error_body("Invalid or missing credentials.", "authentication_error", "invalid_credentials"),
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="api"'},
        )
    if isinstance(exc, exceptions.PermissionDenied):
        return Response(error_body("You are not allowed to do this.", "permission_error", "forbidden"), status=403)
    if isinstance(exc, exceptions.Throttled):
        wait = int(exc.wait or 60)  # type: ignore[attr-defined]  # set by __init__, missing from the DRF stubs
        return Response(
            error_body(f"Too many requests: retry in {wait} s.", "rate_limit_error", "rate_limited"),
            status=429,
            headers={"Retry-After": str(wait)},
        )
    if isinstance(exc, exceptions.APIException):
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else "invalid_request"
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return Response(error_body(str(message), kind, str(code)), status=exc.status_code)
    return None
