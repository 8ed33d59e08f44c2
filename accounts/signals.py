"""Audit session sign-ins (admin, dashboard, OpenID Connect) and every failed sign-in."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from accounts.models import AuditEvent, User
from accounts.services import audit_event_record
from accounts.throttling import client_ip


@receiver(user_logged_in, dispatch_uid="accounts.audit_session_login")
def _audit_session_login(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    audit_event_record(
        action=AuditEvent.Action.LOGIN_SUCCEEDED,
        actor=user,
        ip=client_ip(request) if request is not None else None,
        target=f"user:{user.pk}",
        detail={"via": "session", "path": request.path if request is not None else ""},
    )


@receiver(user_login_failed, dispatch_uid="accounts.audit_login_failed")
def _audit_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kw: Any
) -> None:
    # Django has already masked the password in ``credentials``; only the e-mail is kept.
    email = str(credentials.get("email") or credentials.get("username") or "")[:254]
    audit_event_record(
        action=AuditEvent.Action.LOGIN_FAILED,
        actor_email=email,
        ip=client_ip(request) if request is not None else None,
        detail={"path": request.path if request is not None else ""},
    )
