"""The signed-in user, organisations, members and invitations."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.apis.base import (
    INVALID,
    ORG_ERRORS,
    ORG_HEADER_PARAMETER,
    UNAUTHORIZED,
    AuthenticatedRequest,
    OrganizationApi,
    OrganizationRequest,
    ip_of,
)
from accounts.roles import ROLES


class OrganizationOutput(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    role = serializers.ChoiceField(choices=ROLES, help_text="Your role in it.")


class MeApi(APIView):
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        email = serializers.EmailField()
        full_name = serializers.CharField()
        organizations = OrganizationOutput(many=True)

    @extend_schema(
        tags=["me"],
        summary="The signed-in user with their organisations and roles",
        responses={200: OutputSerializer, 401: UNAUTHORIZED},
        examples=[
            OpenApiExample(
                "me",
                value={
                    "id": 1,
                    "email": "ada@example.com",
                    "full_name": "Ada",
                    "organizations": [{"slug": "acme", "name": "Acme", "role": "owner"}],
                },
            )
        ],
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        user = request.user
        organizations = [
            {"slug": m.organization.slug, "name": m.organization.name, "role": m.role}
            for m in selectors.user_memberships(user=user)
        ]
        data = {"id": user.pk, "email": user.email, "full_name": user.full_name, "organizations": organizations}
        return Response(self.OutputSerializer(data).data)


class OrganizationCollectionApi(APIView):
    """``GET`` lists your organisations; ``POST`` creates one with you as owner."""

    permission_classes = [IsAuthenticated]

    class CreateInputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=150)
        slug = serializers.SlugField(max_length=50, required=False)

    @extend_schema(tags=["organizations"], summary="Your organisations", responses={200: OrganizationOutput(many=True)})
    def get(self, request: AuthenticatedRequest) -> Response:
        memberships = selectors.user_memberships(user=request.user)
        data = [{"slug": m.organization.slug, "name": m.organization.name, "role": m.role} for m in memberships]
        return Response(OrganizationOutput(data, many=True).data)

    @extend_schema(
        tags=["organizations"],
        summary="Create an organisation (you become its owner)",
        request=CreateInputSerializer,
        responses={201: OrganizationOutput, 400: INVALID, 401: UNAUTHORIZED, 409: INVALID},
        examples=[
            OpenApiExample("create", value={"name": "Acme", "slug": "acme"}, request_only=True),
            OpenApiExample("created", value={"slug": "acme", "name": "Acme", "role": "owner"}, response_only=True),
        ],
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        serializer = self.CreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        organization = services.organization_create(**serializer.validated_data, owner=request.user, ip=ip_of(request))
        data = {"slug": organization.slug, "name": organization.name, "role": "owner"}
        return Response(OrganizationOutput(data).data, status=status.HTTP_201_CREATED)


class OrganizationDetailApi(OrganizationApi):
    """``GET`` one of your organisations; ``PATCH`` renames or deactivates it (owners)."""

    required_actions = {"GET": "view_organization", "PATCH": "manage_organization"}

    class UpdateInputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=150, required=False)
        is_active = serializers.BooleanField(
            required=False,
            help_text="false deactivates: every key is refused within seconds and the organisation disappears from "
            "its members' API and dashboard; only an operator can reactivate it.",
        )

    @extend_schema(
        tags=["organizations"], summary="One of your organisations", responses={200: OrganizationOutput, **ORG_ERRORS}
    )
    def get(self, request: OrganizationRequest, org_slug: str | None = None) -> Response:
        organization = request.organization
        data = {"slug": organization.slug, "name": organization.name, "role": request.organization_role}
        return Response(OrganizationOutput(data).data)

    @extend_schema(
        tags=["organizations"],
        summary="Rename or deactivate the organisation (role action manage_organization)",
        parameters=[ORG_HEADER_PARAMETER],
        request=UpdateInputSerializer,
        responses={200: OrganizationOutput, **ORG_ERRORS},
        examples=[
            OpenApiExample("rename", value={"name": "Acme Labs"}, request_only=True),
            OpenApiExample("deactivate", value={"is_active": False}, request_only=True),
        ],
    )
    def patch(self, request: OrganizationRequest, org_slug: str | None = None) -> Response:
        serializer = self.UpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        organization = services.organization_update(
            organization=request.organization, actor=request.user, ip=ip_of(request), **serializer.validated_data
        )
        data = {"slug": organization.slug, "name": organization.name, "role": request.organization_role}
        return Response(OrganizationOutput(data).data)


class MemberOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField(source="user.email")
    full_name = serializers.CharField(source="user.full_name")
    role = serializers.ChoiceField(choices=ROLES)
    created_at = serializers.DateTimeField()


class MemberListApi(OrganizationApi):
    required_actions = {"GET": "view_organization"}

    @extend_schema(
        tags=["members"],
        summary="Members and their roles",
        parameters=[ORG_HEADER_PARAMETER],
        responses={200: MemberOutput(many=True), **ORG_ERRORS},
    )
    def get(self, request: OrganizationRequest, org_slug: str | None = None) -> Response:
        return Response(MemberOutput(selectors.membership_list(organization=request.organization), many=True).data)


class MemberDetailApi(OrganizationApi):
    """``PATCH`` changes a member's role; ``DELETE`` removes the member."""

    required_actions = {"PATCH": "manage_members", "DELETE": "manage_members"}

    class UpdateInputSerializer(serializers.Serializer):
        role = serializers.ChoiceField(choices=ROLES)

    @extend_schema(
        tags=["members"],
        summary="Change a member's role",
        parameters=[ORG_HEADER_PARAMETER],
        request=UpdateInputSerializer,
        responses={200: MemberOutput, 409: INVALID, **ORG_ERRORS},
        examples=[OpenApiExample("promote", value={"role": "admin"}, request_only=True)],
    )
    def patch(self, request: OrganizationRequest, member_id: int, org_slug: str | None = None) -> Response:
        membership = selectors.membership_get(organization=request.organization, membership_id=member_id)
        serializer = self.UpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.membership_role_change(
            membership=membership, role=serializer.validated_data["role"], actor=request.user, ip=ip_of(request)
        )
        return Response(MemberOutput(membership).data)

    @extend_schema(
        tags=["members"],
        summary="Remove a member",
        parameters=[ORG_HEADER_PARAMETER],
        responses={204: None, 409: INVALID, **ORG_ERRORS},
    )
    def delete(self, request: OrganizationRequest, member_id: int, org_slug: str | None = None) -> Response:
        membership = selectors.membership_get(organization=request.organization, membership_id=member_id)
        services.membership_remove(membership=membership, actor=request.user, ip=ip_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=ROLES)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class InvitationCollectionApi(OrganizationApi):
    """``GET`` lists pending invitations; ``POST`` invites someone by e-mail."""

    required_actions = {"GET": "manage_members", "POST": "manage_members"}

    class CreateInputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254)
        role = serializers.ChoiceField(choices=ROLES)

    @extend_schema(
        tags=["invitations"],
        summary="Pending invitations",
        parameters=[ORG_HEADER_PARAMETER],
        responses={200: InvitationOutput(many=True), **ORG_ERRORS},
    )
    def get(self, request: OrganizationRequest, org_slug: str | None = None) -> Response:
        return Response(InvitationOutput(selectors.invitation_list(organization=request.organization), many=True).data)

    @extend_schema(
        tags=["invitations"],
        summary="Invite someone by e-mail with a role (the token is e-mailed, never returned)",
        parameters=[ORG_HEADER_PARAMETER],
        request=CreateInputSerializer,
        responses={201: InvitationOutput, 409: INVALID, **ORG_ERRORS},
        examples=[
            OpenApiExample("invite", value={"email": "grace@example.com", "role": "developer"}, request_only=True)
        ],
    )
    def post(self, request: OrganizationRequest, org_slug: str | None = None) -> Response:
        serializer = self.CreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation, _token = services.invitation_create(
            organization=request.organization, **serializer.validated_data, invited_by=request.user, ip=ip_of(request)
        )
        return Response(InvitationOutput(invitation).data, status=status.HTTP_201_CREATED)


class InvitationDetailApi(OrganizationApi):
    required_actions = {"DELETE": "manage_members"}

    @extend_schema(
        tags=["invitations"],
        summary="Withdraw a pending invitation",
        parameters=[ORG_HEADER_PARAMETER],
        responses={204: None, **ORG_ERRORS},
    )
    def delete(self, request: OrganizationRequest, invitation_id: int, org_slug: str | None = None) -> Response:
        invitation = selectors.invitation_get(organization=request.organization, invitation_id=invitation_id)
        services.invitation_revoke(invitation=invitation, actor=request.user, ip=ip_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationAcceptApi(APIView):
    class InputSerializer(serializers.Serializer):
        token = serializers.CharField(max_length=500)

    @extend_schema(
        tags=["invitations"],
        summary="Accept an invitation sent to your e-mail address",
        request=InputSerializer,
        responses={200: OrganizationOutput, 400: INVALID, 401: UNAUTHORIZED},
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.invitation_accept(
            token=serializer.validated_data["token"], user=request.user, ip=ip_of(request)
        )
        data = {"slug": membership.organization.slug, "name": membership.organization.name, "role": membership.role}
        return Response(OrganizationOutput(data).data)
