"""A failed third-party sign-in becomes one warning in the log, one audit event and one clear page."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import structlog
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from accounts.models import AuditEvent
from accounts.services import audit_event_record
from accounts.throttling import client_ip

log = structlog.get_logger("mcp.accounts.oidc")

TEMPLATE = "accounts/sign_in_failed.html"


class Reason(StrEnum):
    """Why a sign-in through the provider failed (``detail.reason`` of the ``login_failed`` audit event)."""

    PROVIDER_UNREACHABLE = "provider_unreachable"  # no answer, or no usable discovery document
    PROVIDER_ERROR = "provider_error"  # e.g. the token request refused (wrong client secret), a bad ID token
    STATE_MISMATCH = "state_mismatch"  # the callback's state is not one this browser started (tampered, replayed)
    CANCELLED = "cancelled"  # the person declined at the provider
    SIGNUP_REFUSED = "signup_refused"  # invite-only, and no pending invitation for the e-mail
    EMAIL_UNVERIFIED = "email_unverified"  # the provider does not vouch for the e-mail address


#: reason -> (HTTP status, what the person reads). Transient failures say "try again"; refusals say what to do.
_PAGES: dict[Reason, tuple[int, str]] = {
    Reason.PROVIDER_UNREACHABLE: (502, "We could not reach {provider}. Please try again in a moment."),
    Reason.PROVIDER_ERROR: (502, "{provider} did not complete the sign-in. Please try again."),
    Reason.STATE_MISMATCH: (400, "This sign-in link has expired or was altered. Please try again."),
    Reason.CANCELLED: (401, "The sign-in was cancelled at {provider}. You can try again."),
    Reason.SIGNUP_REFUSED: (
        403,
        "This gateway is invitation-only and there is no pending invitation for {email}. Ask an administrator "
        "of your organisation to invite this address, then sign in again.",
    ),
    Reason.EMAIL_UNVERIFIED: (
        403,
        "{provider} has not verified the e-mail address {email}, so it cannot be used to sign in here. "
        "Verify it with {provider}, then sign in again.",
    ),
}
_REFUSALS = (Reason.SIGNUP_REFUSED, Reason.EMAIL_UNVERIFIED)


def sign_in_failed(
    request: HttpRequest, *, reason: Reason, provider: Any, email: str = "", exception: BaseException | None = None
) -> HttpResponse:
    """Log, audit and render one failed sign-in through ``provider`` (an allauth provider).

    :param email: the address the provider gave, when the failure happened after it answered.
    :param exception: what went wrong, for the log (its type and message, never a traceback).
    """
    log.warning(
        "oidc_sign_in_failed",
        reason=reason.value,
        provider=provider.app.provider_id,
        error=f"{type(exception).__name__}: {str(exception)[:300]}" if exception is not None else None,
    )
    audit_event_record(
        action=AuditEvent.Action.LOGIN_FAILED,
        actor_email=email,
        ip=client_ip(request),
        target=f"oidc:{provider.app.provider_id}",
        detail={"via": "oidc", "reason": reason.value, "path": request.path},
    )
    status, message = _PAGES[reason]
    context = {
        "reason": reason.value,
        "message": message.format(provider=provider.name, email=email or "this address"),
        "retry_url": reverse("account_login") if reason in _REFUSALS else provider.get_login_url(request),
        "retry_label": "Back to sign-in" if reason in _REFUSALS else "Try again",
    }
    return render(request, TEMPLATE, context, status=status)
