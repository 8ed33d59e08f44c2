"""Audit session sign-ins (admin, dashboard, OpenID Connect) and every failed sign-in; revoke the
personal API keys of a user who is deactivated, deleted or removed from an organisation, by any
path (services, admin, shell)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from django.dispatch import receiver
from django.http import HttpRequest

from accounts.models import AuditEvent, Membership, User
from accounts.services import (
    CREATOR_DEACTIVATED,
    CREATOR_DELETED,
    CREATOR_REMOVED,
    api_keys_revoke_for_departed_creator,
    audit_event_record,
)
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


@receiver(pre_save, sender=User, dispatch_uid="accounts.note_was_active")
def _note_was_active(sender: Any, instance: User, **kwargs: Any) -> None:
    if instance.pk is not None and not instance.is_active:
        instance._was_active = User.objects.filter(pk=instance.pk, is_active=True).exists()


@receiver(post_save, sender=User, dispatch_uid="accounts.revoke_keys_of_deactivated_user")
def _revoke_keys_of_deactivated_user(sender: Any, instance: User, created: bool, **kwargs: Any) -> None:
    if getattr(instance, "_was_active", False):
        instance._was_active = False
        api_keys_revoke_for_departed_creator(user=instance, reason=CREATOR_DEACTIVATED)


@receiver(pre_delete, sender=User, dispatch_uid="accounts.revoke_keys_of_deleted_user")
def _revoke_keys_of_deleted_user(sender: Any, instance: User, **kwargs: Any) -> None:
    api_keys_revoke_for_departed_creator(user=instance, reason=CREATOR_DELETED)


@receiver(post_delete, sender=Membership, dispatch_uid="accounts.revoke_keys_of_removed_member")
def _revoke_keys_of_removed_member(sender: Any, instance: Membership, **kwargs: Any) -> None:
    user = User.objects.filter(pk=instance.user_id).first()
    if user is not None:  # a deleted user's keys were revoked as the user went
        api_keys_revoke_for_departed_creator(user=user, organization=instance.organization, reason=CREATOR_REMOVED)
