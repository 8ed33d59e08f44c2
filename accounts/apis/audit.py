"""The organisation's security audit log, for its owners."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts import selectors
from accounts.apis.base import ORG_ERRORS, ORG_HEADER_PARAMETER, OrganizationApi, OrganizationRequest


class AuditEventListApi(OrganizationApi):
    required_actions = {"GET": "view_audit_log"}

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        created_at = serializers.DateTimeField()
        action = serializers.CharField()
        actor = serializers.CharField(source="actor_email")
        ip_address = serializers.IPAddressField(allow_null=True)
        target = serializers.CharField()
        detail = serializers.DictField()

    @extend_schema(
        tags=["audit"],
        summary="The latest 100 security events of the organisation (owners only)",
        parameters=[ORG_HEADER_PARAMETER],
        responses={200: OutputSerializer(many=True), **ORG_ERRORS},
        examples=[
            OpenApiExample(
                "events",
                value=[
                    {
                        "id": 3,
                        "created_at": "2026-01-01T12:00:00Z",
                        "action": "key_revoked",
                        "actor": "ada@example.com",
                        "ip_address": "203.0.113.9",
                        "target": "api_key:7",
                        "detail": {"name": "ci", "prefix": "mgw_4fQ2xY9a"},
                    }
                ],
                response_only=True,
            )
        ],
    )
    def get(self, request: OrganizationRequest, org_slug: str | None = None) -> Response:
        events = selectors.audit_event_list(organization=request.organization)
        return Response(self.OutputSerializer(events, many=True).data)
