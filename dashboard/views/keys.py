"""API keys: list with last use; create, edit, rotate (the secret shown once) and revoke."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.models import ApiKey
from accounts.selectors import api_key_get, api_key_list
from accounts.services import api_key_create, api_key_revoke, api_key_rotate, api_key_update
from accounts.throttling import client_ip
from core.errors import ApplicationError
from dashboard.forms import REFUSED_FORM_STATUS, ApiKeyForm, form_submit
from dashboard.pages import DashboardRequest, dashboard_page
from dashboard.responses import render_secret, service_action

#: The keys page lists this many (newest first); revoked keys are not listed.
MAX_KEYS_LISTED = 200


def _list(request: DashboardRequest, form: ApiKeyForm | None = None, status: int = 200) -> HttpResponse:
    workspace = request.workspace
    keys = api_key_list(organization=workspace.require_organization()).order_by("-created_at")[:MAX_KEYS_LISTED]
    if form is None and workspace.can("manage_keys"):
        form = ApiKeyForm()
    return render(request, "dashboard/keys/list.html", {"keys": keys, "form": form}, status=status)


def _secret(request: DashboardRequest, api_key: ApiKey, raw: str, *, rotated: bool) -> HttpResponse:
    return render_secret(request, "dashboard/keys/secret.html", {"key": api_key, "secret": raw, "rotated": rotated})


@dashboard_page("view_keys")
def key_list(request: DashboardRequest) -> HttpResponse:
    return _list(request)


@require_POST
@never_cache
@dashboard_page("manage_keys")
def key_create(request: DashboardRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST)
    created = form_submit(
        form,
        lambda _data: api_key_create(
            organization=request.workspace.require_organization(),
            created_by=request.user,
            ip=client_ip(request),
            **form.service_arguments(),
        ),
    )
    if created is None:
        return _list(request, form, status=REFUSED_FORM_STATUS)
    api_key, raw = created
    return _secret(request, api_key, raw, rotated=False)


@dashboard_page("manage_keys")
def key_edit(request: DashboardRequest, key_id: int) -> HttpResponse:
    """Change a key's name, scopes, models, limits or expiry; its secret stays the same."""
    try:
        api_key = api_key_get(organization=request.workspace.require_organization(), key_id=key_id)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("dashboard:keys")
    if request.method != "POST":
        form = ApiKeyForm(initial=ApiKeyForm.initial_for(api_key))
        return render(request, "dashboard/keys/edit.html", {"key": api_key, "form": form})
    form = ApiKeyForm(request.POST)
    updated = form_submit(
        form,
        lambda _data: api_key_update(
            api_key=api_key, actor=request.user, ip=client_ip(request), **form.update_arguments(api_key)
        ),
    )
    if updated is None:
        return render(request, "dashboard/keys/edit.html", {"key": api_key, "form": form}, status=REFUSED_FORM_STATUS)
    messages.success(request, f"The key {updated.name} ({updated.prefix}…) is saved.")
    return redirect("dashboard:keys")


@require_POST
@never_cache
@dashboard_page("manage_keys")
def key_rotate(request: DashboardRequest, key_id: int) -> HttpResponse:
    try:
        old = api_key_get(organization=request.workspace.require_organization(), key_id=key_id)
        api_key, raw = api_key_rotate(api_key=old, actor=request.user, ip=client_ip(request))
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("dashboard:keys")
    return _secret(request, api_key, raw, rotated=True)


@require_POST
@dashboard_page("manage_keys")
def key_revoke(request: DashboardRequest, key_id: int) -> HttpResponse:
    def revoke() -> ApiKey:
        api_key = api_key_get(organization=request.workspace.require_organization(), key_id=key_id)
        return api_key_revoke(api_key=api_key, actor=request.user, ip=client_ip(request))

    return service_action(
        request, revoke, done=lambda key: f"The key {key.name} ({key.prefix}…) is revoked.", to="dashboard:keys"
    )
