"""DRF permission classes reading the permission matrix (:mod:`accounts.roles`).

Organisation-scoped views name the action each HTTP method needs in ``required_actions``; the
organisation comes from the ``org_slug`` path segment (``/api/orgs/<slug>/…``) or, on the
header-selected routes, from ``X-Organization: <slug>``. A user who is not a member gets 404 (the
organisation's existence is not revealed); a member whose role lacks the action gets 403.
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.exceptions import InvalidInput, PermissionDenied
from accounts.roles import ACTIONS, MODALITIES, PERMISSIONS, ROLES, role_allows
from accounts.selectors import organization_get_for_member

__all__ = [
    "ACTIONS",
    "MODALITIES",
    "ORGANIZATION_HEADER",
    "PERMISSIONS",
    "ROLES",
    "HasOrganizationAction",
    "role_allows",
]

ORGANIZATION_HEADER = "X-Organization"


def organization_slug_from(request: Request, view: APIView) -> str:
    slug = view.kwargs.get("org_slug") or request.headers.get(ORGANIZATION_HEADER, "").strip()
    if not slug:
        raise InvalidInput(
            f"Choose the organisation: use /api/orgs/<slug>/… or send the {ORGANIZATION_HEADER} header.",
            param=ORGANIZATION_HEADER,
        )
    return slug


class HasOrganizationAction(BasePermission):
    """Member of the chosen organisation with a role allowing ``view.required_actions[method]``.

    Sets ``request.organization`` and ``request.organization_role`` for the view. Deny by default: a
    method missing from ``required_actions`` is refused, but for ``OPTIONS``, which any member may ask.
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        has_method = hasattr(view, (request.method or "").lower())
        try:
            slug = organization_slug_from(request, view)
        except InvalidInput:
            if not has_method:
                return True  # no organisation named, and a method the route has not: DRF's 405 comes first
            raise
        organization, role = organization_get_for_member(user=request.user, slug=slug)
        # Attributes for the view; DRF's Request takes them, its stubs declare no such attributes.
        request.organization = organization  # type: ignore[attr-defined]
        request.organization_role = role  # type: ignore[attr-defined]
        if not has_method:
            return True  # a member asking with a method the view has not: DRF answers 405 Method Not Allowed
        if request.method == "OPTIONS":
            return True  # the route's description (methods, formats), as the public API schema gives it
        action = getattr(view, "required_actions", {}).get(request.method)
        if action is None or not role_allows(role, action):
            raise PermissionDenied()
        return True
