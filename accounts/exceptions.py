"""Errors raised by the accounts services, subclasses of :class:`core.errors.ApplicationError`.

The API maps each to ``{"error": {...}}`` with its status. Each carries the HTTP status, an
OpenAI-style ``type``, a stable ``code`` and, for input errors, the ``param`` at fault.
Messages are safe to show to the caller and say what to do next.
"""

from __future__ import annotations

from core.errors import ApplicationError

__all__ = [
    "ApplicationError",
    "AuthenticationFailed",
    "Conflict",
    "InvalidApiKey",
    "InvalidInput",
    "InvitationInvalid",
    "NotFound",
    "PermissionDenied",
    "RegistrationClosed",
    "TooManyAttempts",
]


class InvalidInput(ApplicationError):
    status, code = 400, "invalid_value"


class AuthenticationFailed(ApplicationError):
    status, type, code = 401, "authentication_error", "invalid_credentials"
    message = "Invalid or missing credentials."


class InvalidApiKey(AuthenticationFailed):
    """One message for every malformed, unknown, expired or revoked key: which part was wrong is not said."""

    code = "invalid_api_key"
    message = "Invalid or missing API key."


class PermissionDenied(ApplicationError):
    status, type, code = 403, "permission_error", "forbidden"
    message = "Your role in this organisation does not allow this action."


class NotFound(ApplicationError):
    status, type, code = 404, "not_found_error", "not_found"
    message = "Not found."


class Conflict(ApplicationError):
    status, code = 409, "conflict"


class RegistrationClosed(ApplicationError):
    status, type, code = 403, "permission_error", "registration_closed"
    message = "Registration is by invitation only: ask an organisation owner to invite you."


class InvitationInvalid(ApplicationError):
    status, code = 400, "invalid_invitation"
    message = "This invitation is invalid, expired or already used: ask for a new one."


class ThrottleUnavailable(ApplicationError):
    """The attempt counters (shared cache, Redis) are unreachable: refused, never let through uncounted."""

    status, type, code = 503, "service_unavailable", "throttle_unavailable"
    message = "Sign-in attempts cannot be counted right now. Retry in a few seconds."

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": "2"})


class TooManyAttempts(ApplicationError):
    status, type, code = 429, "rate_limit_error", "too_many_attempts"
    message = "Too many attempts. Wait a few minutes before trying again."

    def __init__(self, message: str | None = None, *, retry_after: int = 60) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after
