"""API keys of an organisation: list, create (secret shown once), rotate, revoke."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts import selectors, services
from accounts.apis.base import ORG_ERRORS, ORG_HEADER_PARAMETER, OrganizationApi, OrganizationRequest, ip_of
from accounts.models import ApiKey
from accounts.roles import MODALITIES
from accounts.services import KNOWN_LIMITS


class ApiKeyOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The public start of the key; the secret is never shown again.")
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=MODALITIES))
    allowed_models = serializers.ListField(child=serializers.CharField())
    limits = serializers.DictField(child=serializers.IntegerField())
    is_service = serializers.BooleanField(
        help_text="An organisation (service) key, kept when its creator leaves; personal keys are then revoked."
    )
    created_by = serializers.EmailField(source="created_by.email", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)


class ApiKeyWithSecretOutput(ApiKeyOutput):
    key = serializers.CharField(help_text="The secret: shown exactly once, store it now.")


_KEY_EXAMPLE = {
    "id": 7,
    "name": "ci",
    "prefix": "mgw_4fQ2xY9a",
    "scopes": ["image", "text"],
    "allowed_models": [],
    "limits": {"requests_per_minute": 50},
    "is_service": False,
    "created_by": "ada@example.com",
    "created_at": "2026-01-01T12:00:00Z",
    "expires_at": None,
    "revoked_at": None,
    "last_used_at": None,
}
_SECRET_EXAMPLE = {**_KEY_EXAMPLE, "key": "mgw_4fQ2xY9a…(42 characters)"}


def _with_secret(api_key: ApiKey, raw: str) -> dict:
    return {**ApiKeyOutput(api_key).data, "key": raw}


class ApiKeyCollectionApi(OrganizationApi):
    """``GET`` lists the organisation's active keys; ``POST`` creates one."""

    required_actions = {"GET": "view_keys", "POST": "manage_keys"}

    class CreateInputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100)
        scopes = serializers.ListField(
            child=serializers.ChoiceField(choices=MODALITIES), min_length=1, max_length=len(MODALITIES)
        )
        allowed_models = serializers.ListField(
            child=serializers.CharField(max_length=200), required=False, max_length=100, default=list
        )
        limits = serializers.DictField(
            child=serializers.IntegerField(),
            required=False,
            default=dict,
            help_text="Each at most the organisation's plan (a key only tightens it); refused naming the limit.",
        )
        is_service = serializers.BooleanField(
            required=False,
            default=False,
            help_text="true: an organisation (service) key, kept when its creator is deactivated or leaves the "
            "organisation; false (default): a personal key, revoked then.",
        )
        expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)

        def validate_limits(self, value: dict) -> dict:
            unknown = sorted(set(value) - set(KNOWN_LIMITS))
            if unknown:
                raise serializers.ValidationError(f"Unknown limit {unknown[0]!r}: use {', '.join(KNOWN_LIMITS)}.")
            return value

    @extend_schema(
        tags=["api keys"],
        summary="Active API keys (never their secrets)",
        parameters=[ORG_HEADER_PARAMETER],
        responses={200: ApiKeyOutput(many=True), **ORG_ERRORS},
        examples=[OpenApiExample("keys", value=[_KEY_EXAMPLE], response_only=True)],
    )
    def get(self, request: OrganizationRequest, org_slug: str | None = None) -> Response:
        return Response(ApiKeyOutput(selectors.api_key_list(organization=request.organization), many=True).data)

    @extend_schema(
        tags=["api keys"],
        summary="Create an API key; the response is the only time the secret is shown",
        parameters=[ORG_HEADER_PARAMETER],
        request=CreateInputSerializer,
        responses={201: ApiKeyWithSecretOutput, 409: ORG_ERRORS[400], **ORG_ERRORS},
        examples=[
            OpenApiExample(
                "create",
                value={"name": "ci", "scopes": ["text", "image"], "limits": {"requests_per_minute": 50}},
                request_only=True,
            ),
            OpenApiExample("created", value=_SECRET_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request: OrganizationRequest, org_slug: str | None = None) -> Response:
        serializer = self.CreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        api_key, raw = services.api_key_create(
            organization=request.organization, **serializer.validated_data, created_by=request.user, ip=ip_of(request)
        )
        return Response(_with_secret(api_key, raw), status=status.HTTP_201_CREATED)


class ApiKeyDetailApi(OrganizationApi):
    """``GET`` one key; ``PATCH`` edits it (same secret); ``DELETE`` revokes it."""

    required_actions = {"GET": "view_keys", "PATCH": "manage_keys", "DELETE": "manage_keys"}

    class UpdateInputSerializer(ApiKeyCollectionApi.CreateInputSerializer):
        """Every field optional: only those sent change."""

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            del self.fields["is_service"]  # chosen at creation: a personal key cannot outlive its creator by an edit
            for field in self.fields.values():
                field.required = False
                field.default = serializers.empty

    @extend_schema(
        tags=["api keys"],
        summary="One API key",
        parameters=[ORG_HEADER_PARAMETER],
        responses={200: ApiKeyOutput, **ORG_ERRORS},
    )
    def get(self, request: OrganizationRequest, key_id: int, org_slug: str | None = None) -> Response:
        return Response(ApiKeyOutput(selectors.api_key_get(organization=request.organization, key_id=key_id)).data)

    @extend_schema(
        tags=["api keys"],
        summary="Edit an API key's name, scopes, models, limits or expiry (the secret stays; every replica applies it "
        "within seconds)",
        parameters=[ORG_HEADER_PARAMETER],
        request=UpdateInputSerializer,
        responses={200: ApiKeyOutput, 409: ORG_ERRORS[400], **ORG_ERRORS},
        examples=[
            OpenApiExample(
                "edit", value={"scopes": ["text"], "limits": {"requests_per_minute": 10}}, request_only=True
            ),
            OpenApiExample("edited", value=_KEY_EXAMPLE, response_only=True),
        ],
    )
    def patch(self, request: OrganizationRequest, key_id: int, org_slug: str | None = None) -> Response:
        api_key = selectors.api_key_get(organization=request.organization, key_id=key_id)
        serializer = self.UpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        updated = services.api_key_update(
            api_key=api_key, actor=request.user, ip=ip_of(request), **serializer.validated_data
        )
        return Response(ApiKeyOutput(updated).data)

    @extend_schema(
        tags=["api keys"],
        summary="Revoke an API key (refused on every replica within seconds)",
        parameters=[ORG_HEADER_PARAMETER],
        responses={204: None, **ORG_ERRORS},
    )
    def delete(self, request: OrganizationRequest, key_id: int, org_slug: str | None = None) -> Response:
        api_key = selectors.api_key_get(organization=request.organization, key_id=key_id)
        services.api_key_revoke(api_key=api_key, actor=request.user, ip=ip_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiKeyRevokeApi(OrganizationApi):
    required_actions = {"POST": "manage_keys"}

    @extend_schema(
        tags=["api keys"],
        summary="Revoke an API key (same as DELETE on the key)",
        parameters=[ORG_HEADER_PARAMETER],
        request=None,
        responses={200: ApiKeyOutput, **ORG_ERRORS},
    )
    def post(self, request: OrganizationRequest, key_id: int, org_slug: str | None = None) -> Response:
        api_key = selectors.api_key_get(organization=request.organization, key_id=key_id)
        return Response(
            ApiKeyOutput(services.api_key_revoke(api_key=api_key, actor=request.user, ip=ip_of(request))).data
        )


class ApiKeyRotateApi(OrganizationApi):
    required_actions = {"POST": "manage_keys"}

    @extend_schema(
        tags=["api keys"],
        summary="Rotate: a new secret with the same settings; the old key stops working at once",
        parameters=[ORG_HEADER_PARAMETER],
        request=None,
        responses={201: ApiKeyWithSecretOutput, **ORG_ERRORS},
        examples=[OpenApiExample("rotated", value=_SECRET_EXAMPLE, response_only=True)],
    )
    def post(self, request: OrganizationRequest, key_id: int, org_slug: str | None = None) -> Response:
        api_key = selectors.api_key_get(organization=request.organization, key_id=key_id)
        new, raw = services.api_key_rotate(api_key=api_key, actor=request.user, ip=ip_of(request))
        return Response(_with_secret(new, raw), status=status.HTTP_201_CREATED)
