"""Checks shared by the services: the permission matrix applied to an acting user."""

from __future__ import annotations

from accounts.exceptions import NotFound, PermissionDenied
from accounts.models import Membership, Organization, User
from accounts.roles import role_allows


def require_action(*, actor: User | None, organization: Organization, action: str) -> None:
    """Refuse unless ``actor`` (``None``: the operator CLI or the admin) may do ``action`` in ``organization``.

    :raises NotFound: the actor is not a member (the organisation's existence is not revealed).
    :raises PermissionDenied: the actor's role does not allow the action.
    """
    if actor is None:
        return
    role = Membership.objects.filter(user=actor, organization=organization).values_list("role", flat=True).first()
    if role is None:
        raise NotFound()
    if not role_allows(role, action):
        raise PermissionDenied()
