"""Shared pieces of the management API views: error schemas, the organisation header, the organisation view.

Public: the jobs and billing APIs build on it too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.models import Organization, User
from accounts.permissions import ORGANIZATION_HEADER, HasOrganizationAction
from accounts.throttling import client_ip

__all__ = [
    "ERROR",
    "FORBIDDEN",
    "INVALID",
    "NOT_FOUND",
    "ORG_ERRORS",
    "ORG_HEADER_PARAMETER",
    "TOO_MANY",
    "UNAUTHORIZED",
    "AuthenticatedRequest",
    "OrganizationApi",
    "OrganizationRequest",
    "error_response",
    "ip_of",
]

ERROR = inline_serializer(
    name="Error",
    fields={
        "error": inline_serializer(
            name="ErrorDetail",
            fields={
                "message": serializers.CharField(),
                "type": serializers.CharField(),
                "code": serializers.CharField(),
                "param": serializers.CharField(allow_null=True),
            },
        )
    },
)


def error_response(description: str, message: str, type_: str, code: str, param: str | None = None) -> OpenApiResponse:
    return OpenApiResponse(
        ERROR,
        description=description,
        examples=[
            OpenApiExample(code, value={"error": {"message": message, "type": type_, "code": code, "param": param}})
        ],
    )


UNAUTHORIZED = error_response(
    "Missing, malformed or expired token",
    "Invalid or missing credentials.",
    "authentication_error",
    "invalid_credentials",
)
NOT_FOUND = error_response("Not found, or not a member", "No such organisation.", "not_found_error", "not_found")
FORBIDDEN = error_response(
    "Your role does not allow this",
    "Your role in this organisation does not allow this action.",
    "permission_error",
    "forbidden",
)
INVALID = error_response(
    "Invalid input (names the field)", "This field is required.", "invalid_request_error", "invalid_value", "name"
)
TOO_MANY = error_response(
    "Too many attempts",
    "Too many attempts. Wait 60 seconds before trying again.",
    "rate_limit_error",
    "too_many_attempts",
)
ORG_ERRORS = {400: INVALID, 401: UNAUTHORIZED, 403: FORBIDDEN, 404: NOT_FOUND}

ORG_HEADER_PARAMETER = OpenApiParameter(
    ORGANIZATION_HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="The organisation slug, on routes without /orgs/<slug>/ in the path.",
)


class OrganizationApi(APIView):
    """A view acting inside one organisation (path ``org_slug`` or the ``X-Organization`` header)."""

    permission_classes = [IsAuthenticated, HasOrganizationAction]
    required_actions: dict[str, str] = {}


if TYPE_CHECKING:

    class AuthenticatedRequest(Request):
        """What a view behind ``IsAuthenticated`` receives: a request whose user signed in."""

        @property
        def user(self) -> User: ...
        @user.setter
        def user(self, value: User | AnonymousUser) -> None: ...

    class OrganizationRequest(AuthenticatedRequest):
        """What an :class:`OrganizationApi` view receives: :class:`~accounts.permissions.HasOrganizationAction`
        has set the organisation the view acts in and the member's role there."""

        organization: Organization
        organization_role: str

else:
    # For annotations only: at run time each is DRF's own request, with the attributes set on it.
    AuthenticatedRequest = OrganizationRequest = Request


def ip_of(request: HttpRequest) -> str | None:
    return client_ip(request)
