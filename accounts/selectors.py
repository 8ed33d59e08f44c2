"""Accounts reads (the app's public surface, with :mod:`accounts.services`)."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.utils import timezone

from accounts.exceptions import NotFound
from accounts.models import ApiKey, AuditEvent, Invitation, Membership, Organization, User

__all__ = [
    "api_key_get",
    "api_key_list",
    "api_key_names",
    "audit_event_list",
    "invitation_get",
    "invitation_list",
    "invitation_pending_for_email",
    "membership_get",
    "membership_list",
    "membership_role",
    "organization_get_for_member",
    "user_memberships",
]


def membership_role(*, user: User, organization: Organization) -> str | None:
    """The user's role in the organisation, or ``None`` when not a member (or not signed in)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    return Membership.objects.filter(user=user, organization=organization).values_list("role", flat=True).first()


def organization_get_for_member(*, user: User | AnonymousUser, slug: str) -> tuple[Organization, str]:
    """The organisation ``slug`` with the user's role in it.

    :raises NotFound: no such organisation *or* the user is not a member — the two look the same.
    """
    if "\x00" in slug:
        # No slug holds NUL, and PostgreSQL refuses one in a query (a ?org= on the job socket can carry it).
        raise NotFound("No such organisation.")
    membership = (
        Membership.objects.select_related("organization")
        .filter(user=user, organization__slug=slug, organization__is_active=True)
        .first()
        if isinstance(user, User)  # every User is authenticated; AnonymousUser is not one
        else None
    )
    if membership is None:
        raise NotFound("No such organisation.")
    return membership.organization, membership.role


def user_memberships(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.select_related("organization").filter(user=user, organization__is_active=True)


def membership_list(*, organization: Organization) -> QuerySet[Membership]:
    return Membership.objects.select_related("user").filter(organization=organization).order_by("user__email")


def membership_get(*, organization: Organization, membership_id: int) -> Membership:
    membership = (
        Membership.objects.select_related("user", "organization")
        .filter(organization=organization, pk=membership_id)
        .first()
    )
    if membership is None:
        raise NotFound("No such member.")
    return membership


def api_key_list(*, organization: Organization, include_revoked: bool = False) -> QuerySet[ApiKey]:
    keys = ApiKey.objects.select_related("created_by").filter(organization=organization)
    return keys if include_revoked else keys.filter(revoked_at=None)


def api_key_get(*, organization: Organization, key_id: int) -> ApiKey:
    """One key of the organisation; a key of another organisation is simply not found."""
    api_key = (
        ApiKey.objects.select_related("organization", "created_by").filter(organization=organization, pk=key_id).first()
    )
    if api_key is None:
        raise NotFound("No such API key.")
    return api_key


def invitation_list(*, organization: Organization) -> QuerySet[Invitation]:
    return Invitation.objects.select_related("invited_by").filter(
        organization=organization, accepted_at=None, revoked_at=None
    )


def invitation_pending_for_email(*, email: str) -> QuerySet[Invitation]:
    """Invitations to ``email`` that can still be accepted, newest first."""
    return (
        Invitation.objects.select_related("organization")
        .filter(email=(email or "").strip().lower(), accepted_at=None, revoked_at=None, expires_at__gt=timezone.now())
        .order_by("-created_at", "-id")
    )


def invitation_get(*, organization: Organization, invitation_id: int) -> Invitation:
    invitation = (
        Invitation.objects.select_related("organization").filter(organization=organization, pk=invitation_id).first()
    )
    if invitation is None:
        raise NotFound("No such invitation.")
    return invitation


def audit_event_list(*, organization: Organization, limit: int = 100) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(organization=organization).order_by("-created_at", "-id")[:limit]


def api_key_names(*, organization: Organization, key_ids: list[int]) -> dict[int, str]:
    """Names of the organisation's keys (revoked ones too) by id, for reports that hold key ids."""
    keys = ApiKey.objects.filter(organization=organization, pk__in=[k for k in key_ids if k]).values_list("pk", "name")
    return dict(keys)
