"""Webhook endpoints of an organisation: list, create (secret shown once), read, change, delete;
their deliveries with every attempt, and redelivery.

Reads need ``view_jobs``, writes ``manage_webhooks`` (:mod:`accounts.roles`). Another
organisation's endpoint or delivery is a 404, exactly like one that does not exist.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.apis.base import ORG_ERRORS, ORG_HEADER_PARAMETER, OrganizationApi, OrganizationRequest, error_response
from jobs import selectors, services
from jobs.models import WebhookDelivery
from jobs.types import WEBHOOK_EVENT_TYPES

TAGS = ["webhooks"]
ENDPOINT_NOT_FOUND = error_response(
    "No such endpoint in this organisation",
    "No such webhook endpoint in this organisation.",
    "not_found_error",
    "webhook_not_found",
)
UNSAFE_URL = error_response(
    "Invalid input, e.g. a URL that may not be called (names the field)",
    "Webhook URLs must be http(s) URLs of public hosts: loopback, private, link-local and metadata addresses "
    "are refused.",
    "invalid_request_error",
    "unsafe_webhook_url",
    "url",
)
ERRORS = {**ORG_ERRORS, 400: UNSAFE_URL}
OBJECT_ERRORS = {**ERRORS, 404: ENDPOINT_NOT_FOUND}
ENDPOINT_EXAMPLE = {
    "id": 3,
    "url": "https://example.com/hooks/mcp",
    "description": "orders service",
    "event_types": ["job.failed", "job.succeeded"],
    "is_active": True,
    "created_at": "2026-01-01T12:00:00Z",
}
SECRET_EXAMPLE = {**ENDPOINT_EXAMPLE, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}  # pragma: allowlist secret
DELIVERY_EXAMPLE = {
    "id": "0b6f3c2e-7d0a-4a8e-9a57-1f0b7a1f6c11",
    "message_id": "msg_0b6f3c2e7d0a4a8e9a571f0b7a1f6c11",
    "event_type": "job.succeeded",
    "job": "4b0c9d1e-2f3a-4b5c-8d7e-6f5a4b3c2d1e",
    "url": "https://example.com/hooks/mcp",
    "status": "succeeded",
    "attempt_count": 2,
    "last_status_code": 200,
    "last_latency_ms": 84,
    "last_error": "",
    "next_attempt_at": None,
    "created_at": "2026-01-01T12:00:00Z",
    "delivered_at": "2026-01-01T12:00:05Z",
    "attempts": [
        {"number": 1, "status_code": 503, "latency_ms": 120, "error": "non-2xx", "created_at": "2026-01-01T12:00:00Z"},
        {"number": 2, "status_code": 200, "latency_ms": 84, "error": "", "created_at": "2026-01-01T12:00:05Z"},
    ],
}


@extend_schema_field(OpenApiTypes.URI)
class WebhookUrlField(serializers.CharField):
    """A webhook URL: checked by the services with the one validator job webhooks use too."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_length=2000, trim_whitespace=False, **kwargs)


class EventTypesField(serializers.ListField):
    child = serializers.ChoiceField(choices=WEBHOOK_EVENT_TYPES)

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_length", len(WEBHOOK_EVENT_TYPES))
        kwargs.setdefault("help_text", "Events to receive; an empty list receives every event.")
        super().__init__(**kwargs)


class WebhookEndpointOutput(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    description = serializers.CharField()
    event_types = EventTypesField()
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class WebhookEndpointWithSecretOutput(WebhookEndpointOutput):
    secret = serializers.CharField(help_text="The Standard Webhooks signing secret: shown exactly once, store it now.")


class WebhookAttemptOutput(serializers.Serializer):
    number = serializers.IntegerField(help_text="1 for the first attempt.")
    status_code = serializers.IntegerField(allow_null=True, help_text="The receiver's answer; null: none came.")
    latency_ms = serializers.IntegerField()
    error = serializers.CharField(help_text="Empty on success; e.g. non-2xx, timeout, refused: …")
    created_at = serializers.DateTimeField()


class WebhookDeliveryOutput(serializers.Serializer):
    id = serializers.UUIDField()
    message_id = serializers.CharField(help_text="The webhook-id header: the same on every attempt.")
    event_type = serializers.CharField()
    job = serializers.UUIDField(source="job_id", allow_null=True)
    url = serializers.URLField()
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices)
    attempt_count = serializers.IntegerField(source="attempts")
    last_status_code = serializers.IntegerField(allow_null=True)
    last_latency_ms = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    attempts = WebhookAttemptOutput(source="attempt_log.all", many=True)


class WebhookEndpointCollectionApi(OrganizationApi):
    """``GET`` lists the organisation's endpoints; ``POST`` registers one."""

    required_actions = {"GET": "view_jobs", "POST": "manage_webhooks"}

    class CreateInputSerializer(serializers.Serializer):
        url = WebhookUrlField()
        event_types = EventTypesField(required=False, default=list)
        description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
        is_active = serializers.BooleanField(required=False, default=True)

    @extend_schema(
        tags=TAGS,
        summary="Webhook endpoints (never their secrets)",
        parameters=[ORG_HEADER_PARAMETER],
        responses={200: WebhookEndpointOutput(many=True), **ORG_ERRORS},
        examples=[OpenApiExample("endpoints", value=[ENDPOINT_EXAMPLE], response_only=True)],
    )
    def get(self, request: OrganizationRequest, org_slug: str | None = None) -> Response:
        endpoints = selectors.webhook_endpoint_list(organization_id=request.organization.id)
        return Response(WebhookEndpointOutput(endpoints, many=True).data)

    @extend_schema(
        tags=TAGS,
        summary="Register a webhook endpoint; the response is the only time its secret is shown",
        parameters=[ORG_HEADER_PARAMETER],
        request=CreateInputSerializer,
        responses={201: WebhookEndpointWithSecretOutput, **ERRORS},
        examples=[
            OpenApiExample(
                "create",
                value={
                    "url": "https://example.com/hooks/mcp",
                    "event_types": ["job.succeeded", "job.failed"],
                    "description": "orders service",
                },
                request_only=True,
            ),
            OpenApiExample("created", value=SECRET_EXAMPLE, response_only=True),
        ],
    )
    def post(self, request: OrganizationRequest, org_slug: str | None = None) -> Response:
        serializer = self.CreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint, secret = services.webhook_endpoint_create(
            organization=request.organization, **serializer.validated_data
        )
        body = {**WebhookEndpointOutput(endpoint).data, "secret": secret}
        return Response(body, status=status.HTTP_201_CREATED)


class WebhookEndpointDetailApi(OrganizationApi):
    """``GET`` one endpoint, ``PATCH`` it (URL, event types, description, enabled), ``DELETE`` it."""

    required_actions = {"GET": "view_jobs", "PATCH": "manage_webhooks", "DELETE": "manage_webhooks"}

    class UpdateInputSerializer(serializers.Serializer):
        url = WebhookUrlField(required=False)
        event_types = EventTypesField(required=False)
        description = serializers.CharField(max_length=200, required=False, allow_blank=True)
        is_active = serializers.BooleanField(required=False, help_text="false: no new deliveries are created.")

    @extend_schema(
        tags=TAGS,
        summary="One webhook endpoint",
        parameters=[ORG_HEADER_PARAMETER],
        responses={200: WebhookEndpointOutput, **OBJECT_ERRORS},
        examples=[OpenApiExample("endpoint", value=ENDPOINT_EXAMPLE, response_only=True)],
    )
    def get(self, request: OrganizationRequest, endpoint_id: int, org_slug: str | None = None) -> Response:
        endpoint = selectors.webhook_endpoint_get(organization_id=request.organization.id, endpoint_id=endpoint_id)
        return Response(WebhookEndpointOutput(endpoint).data)

    @extend_schema(
        tags=TAGS,
        summary="Change a webhook endpoint: enable/disable it, its event types, URL or description",
        parameters=[ORG_HEADER_PARAMETER],
        request=UpdateInputSerializer,
        responses={200: WebhookEndpointOutput, **OBJECT_ERRORS},
        examples=[
            OpenApiExample("disable", value={"is_active": False}, request_only=True),
            OpenApiExample("events", value={"event_types": ["job.failed"]}, request_only=True),
            OpenApiExample("changed", value={**ENDPOINT_EXAMPLE, "is_active": False}, response_only=True),
        ],
    )
    def patch(self, request: OrganizationRequest, endpoint_id: int, org_slug: str | None = None) -> Response:
        endpoint = selectors.webhook_endpoint_get(organization_id=request.organization.id, endpoint_id=endpoint_id)
        serializer = self.UpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_update(endpoint=endpoint, **serializer.validated_data)
        return Response(WebhookEndpointOutput(endpoint).data)

    @extend_schema(
        tags=TAGS,
        summary="Delete a webhook endpoint (its delivery log is kept)",
        parameters=[ORG_HEADER_PARAMETER],
        responses={204: None, **OBJECT_ERRORS},
    )
    def delete(self, request: OrganizationRequest, endpoint_id: int, org_slug: str | None = None) -> Response:
        endpoint = selectors.webhook_endpoint_get(organization_id=request.organization.id, endpoint_id=endpoint_id)
        services.webhook_endpoint_delete(endpoint=endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveryListApi(OrganizationApi):
    """``GET`` an endpoint's newest deliveries, each with its attempts."""

    required_actions = {"GET": "view_jobs"}

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, required=False)
        limit = serializers.IntegerField(min_value=1, max_value=selectors.MAX_PAGE, required=False, default=20)

    @extend_schema(
        tags=TAGS,
        summary="An endpoint's deliveries, newest first, with every attempt (status code, latency, error)",
        parameters=[
            ORG_HEADER_PARAMETER,
            OpenApiParameter("status", str, enum=WebhookDelivery.Status.values, required=False),
            OpenApiParameter("limit", int, required=False, description="1–100, default 20."),
        ],
        responses={200: WebhookDeliveryOutput(many=True), **OBJECT_ERRORS},
        examples=[OpenApiExample("deliveries", value=[DELIVERY_EXAMPLE], response_only=True)],
    )
    def get(self, request: OrganizationRequest, endpoint_id: int, org_slug: str | None = None) -> Response:
        organization_id = request.organization.id
        endpoint = selectors.webhook_endpoint_get(organization_id=organization_id, endpoint_id=endpoint_id)
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        deliveries = selectors.webhook_delivery_list(
            organization_id=organization_id, endpoint_id=endpoint.id, **filters.validated_data
        )
        return Response(WebhookDeliveryOutput(deliveries, many=True).data)


class WebhookDeliveryRedeliverApi(OrganizationApi):
    """``POST`` sends a delivery again now (same ``webhook-id``)."""

    required_actions = {"POST": "manage_webhooks"}

    @extend_schema(
        tags=TAGS,
        summary="Redeliver: queue the delivery again now, with the same webhook-id",
        parameters=[ORG_HEADER_PARAMETER],
        request=None,
        responses={202: WebhookDeliveryOutput, **OBJECT_ERRORS},
        examples=[
            OpenApiExample(
                "queued", value={**DELIVERY_EXAMPLE, "status": "pending"}, response_only=True, status_codes=["202"]
            ),
        ],
    )
    def post(
        self, request: OrganizationRequest, endpoint_id: int, delivery_id: str, org_slug: str | None = None
    ) -> Response:
        organization_id = request.organization.id
        endpoint = selectors.webhook_endpoint_get(organization_id=organization_id, endpoint_id=endpoint_id)
        delivery = selectors.webhook_delivery_get(
            organization_id=organization_id, endpoint_id=endpoint.id, delivery_id=delivery_id
        )
        delivery = services.webhook_delivery_redeliver(delivery=delivery)
        return Response(WebhookDeliveryOutput(delivery).data, status=status.HTTP_202_ACCEPTED)
