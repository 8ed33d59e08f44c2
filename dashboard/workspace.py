"""The signed-in person's organisations, the current one and their role in it, resolved once per request.

The current organisation is kept in the session (switched with the organisation switcher); when it
is missing or the person left that organisation, the first of their organisations is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from accounts.models import Membership, Organization
from accounts.roles import ROLE_LABELS, role_allows
from accounts.selectors import user_memberships

SESSION_KEY = "dashboard_organization"


@dataclass(frozen=True)
class Workspace:
    """What the pages need to know about who is looking: every membership and the current one."""

    memberships: list[Membership] = field(default_factory=list)
    current: Membership | None = None

    @property
    def organization(self) -> Organization | None:
        return None if self.current is None else self.current.organization

    @property
    def role(self) -> str | None:
        return None if self.current is None else self.current.role

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role or "", "")

    def require_organization(self) -> Organization:
        """The current organisation; a page behind a role check (``dashboard_page(action)``) always has one."""
        if self.current is None:
            raise PermissionDenied("No current organisation.")
        return self.current.organization

    def can(self, action: str) -> bool:
        """Whether the current role allows ``action`` (the one table in :mod:`accounts.roles`)."""
        return role_allows(self.role, action)


def workspace_for(request: HttpRequest) -> Workspace:
    """The request's workspace (one query, cached on the request)."""
    cached = getattr(request, "_dashboard_workspace", None)
    if cached is not None:
        return cached
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        workspace = Workspace()
    else:
        memberships = list(user_memberships(user=user).order_by("organization__name", "organization__slug"))
        wanted = request.session.get(SESSION_KEY)
        current = next((m for m in memberships if m.organization.slug == wanted), None)
        workspace = Workspace(memberships=memberships, current=current or (memberships[0] if memberships else None))
    request._dashboard_workspace = workspace  # type: ignore[attr-defined]  # a per-request cache
    return workspace


def workspace_switch(request: HttpRequest, *, slug: str) -> bool:
    """Make ``slug`` the current organisation if the person is a member of it; returns whether it was."""
    if not any(m.organization.slug == slug for m in workspace_for(request).memberships):
        return False
    request.session[SESSION_KEY] = slug
    request._dashboard_workspace = None  # type: ignore[attr-defined]
    return True
