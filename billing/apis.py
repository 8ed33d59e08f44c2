"""``GET /api/usage``: the organisation's usage from the ledger, filtered, grouped, as JSON or CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from accounts.apis.base import ORG_ERRORS, ORG_HEADER_PARAMETER, OrganizationApi, OrganizationRequest
from billing.selectors import GROUPS, latency_percentiles, usage_summary

MAX_RANGE_DAYS = 400
#: The days a usage range may name (nothing was recorded before 2000; 9999-12-31 has no next day).
EARLIEST_DAY = dt.date(2000, 1, 1)
LATEST_DAY = dt.date.max - dt.timedelta(days=1)


class CsvRenderer(BaseRenderer):
    """Lets ``Accept: text/csv`` choose the CSV export; the view writes the CSV itself, errors stay JSON."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Mapping[str, Any] | None = None
    ) -> bytes:
        return JSONRenderer().render(data)


class UsageSummaryApi(OrganizationApi):
    """Requests, errors, tokens, images and cost per day, model, provider, key, modality or organisation.

    CSV with ``?export=csv`` or ``Accept: text/csv``.
    """

    required_actions = {"GET": "view_usage"}
    # api_settings holds the classes the settings name; the stubs type them as the names.
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, CsvRenderer]  # type: ignore[list-item]

    class InputSerializer(serializers.Serializer):
        start = serializers.DateField(required=False, help_text="First day (UTC); default 30 days ago.")
        end = serializers.DateField(required=False, help_text="Last day included (UTC); default today.")
        group_by = serializers.ChoiceField(choices=sorted(GROUPS), default="day")
        model = serializers.CharField(required=False, max_length=200)
        key_id = serializers.IntegerField(required=False, min_value=1)
        export = serializers.ChoiceField(choices=["json", "csv"], default="json")

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            for name in ("start", "end"):
                # The range is computed with whole days around these: the calendar's ends would overflow.
                if name in attrs and not EARLIEST_DAY <= attrs[name] <= LATEST_DAY:
                    raise serializers.ValidationError(
                        {name: f"{name} must be a day from {EARLIEST_DAY} to {LATEST_DAY}."}
                    )
            today = timezone.now().date()
            attrs.setdefault("end", today)
            attrs.setdefault("start", attrs["end"] - dt.timedelta(days=29))
            if attrs["start"] > attrs["end"]:
                raise serializers.ValidationError({"start": "start must not be after end."})
            if (attrs["end"] - attrs["start"]).days > MAX_RANGE_DAYS:
                raise serializers.ValidationError({"start": f"Ask for at most {MAX_RANGE_DAYS} days at a time."})
            return attrs

    class RowSerializer(serializers.Serializer):
        group = serializers.JSONField()
        requests = serializers.IntegerField()
        # A declared field leaves the class (SerializerMetaclass): Serializer.errors stays the property.
        errors = serializers.IntegerField()  # type: ignore[assignment]
        cost = serializers.IntegerField(help_text="Credit micro-units.")
        input_tokens = serializers.IntegerField()
        output_tokens = serializers.IntegerField()
        images = serializers.IntegerField()
        max_latency_ms = serializers.IntegerField()
        mean_latency_ms = serializers.FloatField()

    class OutputSerializer(serializers.Serializer):
        start = serializers.DateField()
        end = serializers.DateField()
        group_by = serializers.CharField()
        latency_ms = serializers.DictField(child=serializers.FloatField())
        rows = serializers.ListField(child=serializers.DictField())

    @extend_schema(
        parameters=[
            ORG_HEADER_PARAMETER,
            *(OpenApiParameter(n, str) for n in ("start", "end", "group_by", "model", "key_id", "export")),
        ],
        responses={
            (200, "application/json"): OutputSerializer,
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="With export=csv or Accept: text/csv."),
            **ORG_ERRORS,
        },
    )
    def get(self, request: OrganizationRequest, org_slug: str | None = None) -> HttpResponse:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        p = params.validated_data
        start = dt.datetime.combine(p["start"], dt.time.min, dt.UTC)
        end = dt.datetime.combine(p["end"] + dt.timedelta(days=1), dt.time.min, dt.UTC)
        organization_id = request.organization.pk
        rows = usage_summary(
            organization_id=organization_id,
            start=start,
            end=end,
            group_by=p["group_by"],
            model=p.get("model"),
            key_id=p.get("key_id"),
        )
        rows = [{k: (v or 0) if k != "group" else v for k, v in row.items()} for row in rows]
        if p["export"] == "csv" or request.accepted_renderer.format == "csv":
            return _csv(rows, p["group_by"])
        latency = latency_percentiles(organization_id=organization_id, start=start, end=end)
        return Response(
            {
                "start": p["start"],
                "end": p["end"],
                "group_by": p["group_by"],
                "latency_ms": latency,
                "rows": self.RowSerializer(rows, many=True).data,
            }
        )

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        # An error asked for as CSV is still the one JSON error shape.
        if getattr(response, "status_code", 200) >= 400 and isinstance(response, Response):
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
        return super().finalize_response(request, response, *args, **kwargs)


def _csv(rows: list[dict], group_by: str) -> HttpResponse:
    out = io.StringIO()
    columns = [
        "group",
        "requests",
        "errors",
        "cost",
        "input_tokens",
        "output_tokens",
        "images",
        "max_latency_ms",
        "mean_latency_ms",
    ]
    writer = csv.writer(out)
    writer.writerow([group_by, *columns[1:]])
    for row in rows:
        writer.writerow([row[c] for c in columns])
    response = HttpResponse(out.getvalue(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="usage.csv"'
    return response
