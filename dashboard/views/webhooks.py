"""Webhooks: endpoints (create, rotate the secret, delete) and recent deliveries with attempts (redeliver)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from core.errors import ApplicationError
from dashboard.forms import REFUSED_FORM_STATUS, form_submit
from dashboard.pages import DashboardRequest, dashboard_page
from dashboard.responses import render_secret, service_action
from jobs.selectors import webhook_delivery_get, webhook_delivery_list, webhook_endpoint_get, webhook_endpoint_list
from jobs.services import (
    webhook_delivery_redeliver,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_secret_rotate,
)
from jobs.types import WEBHOOK_EVENT_TYPES

DELIVERIES_SHOWN = 20


class EndpointForm(forms.Form):
    url = forms.URLField(label="URL", max_length=2000, assume_scheme="https")
    description = forms.CharField(label="Description", max_length=200, required=False)
    event_types = forms.MultipleChoiceField(
        label="Events",
        choices=[(event, event) for event in WEBHOOK_EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: every event.",
    )


def _page(request: DashboardRequest, form: EndpointForm | None = None, status: int = 200, **extra: Any) -> HttpResponse:
    organization_id = request.workspace.require_organization().pk
    context = {
        "endpoints": webhook_endpoint_list(organization_id=organization_id),
        "deliveries": webhook_delivery_list(organization_id=organization_id, limit=DELIVERIES_SHOWN),
        "form": form or EndpointForm(),
        **extra,
    }
    if "secret" in extra:
        return render_secret(request, "dashboard/webhooks.html", context, status=status)
    return render(request, "dashboard/webhooks.html", context, status=status)


@dashboard_page("manage_webhooks")
def webhook_list(request: DashboardRequest) -> HttpResponse:
    return _page(request)


@require_POST
@never_cache
@dashboard_page("manage_webhooks")
def endpoint_create(request: DashboardRequest) -> HttpResponse:
    form = EndpointForm(request.POST)
    created = form_submit(
        form,
        lambda data: webhook_endpoint_create(
            organization=request.workspace.require_organization(),
            url=data["url"],
            description=data["description"],
            event_types=data["event_types"],
        ),
    )
    if created is not None:
        endpoint, secret = created
        return _page(request, secret=secret, secret_for=endpoint)
    return _page(request, form, status=REFUSED_FORM_STATUS)


@require_POST
@never_cache
@dashboard_page("manage_webhooks")
def endpoint_rotate(request: DashboardRequest, endpoint_id: int) -> HttpResponse:
    try:
        endpoint = webhook_endpoint_get(
            organization_id=request.workspace.require_organization().pk, endpoint_id=endpoint_id
        )
        endpoint, secret = webhook_endpoint_secret_rotate(endpoint=endpoint)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("dashboard:webhooks")
    return _page(request, secret=secret, secret_for=endpoint)


@require_POST
@dashboard_page("manage_webhooks")
def endpoint_delete(request: DashboardRequest, endpoint_id: int) -> HttpResponse:
    def delete() -> None:
        endpoint = webhook_endpoint_get(
            organization_id=request.workspace.require_organization().pk, endpoint_id=endpoint_id
        )
        webhook_endpoint_delete(endpoint=endpoint)

    return service_action(
        request, delete, done="The endpoint is deleted; its past deliveries stay listed.", to="dashboard:webhooks"
    )


@require_POST
@dashboard_page("manage_webhooks")
def delivery_redeliver(request: DashboardRequest, delivery_id: str) -> HttpResponse:
    def redeliver() -> None:
        delivery = webhook_delivery_get(
            organization_id=request.workspace.require_organization().pk, delivery_id=delivery_id
        )
        webhook_delivery_redeliver(delivery=delivery)

    return service_action(request, redeliver, done="The delivery is queued to be sent again.", to="dashboard:webhooks")
