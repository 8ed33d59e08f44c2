"""Members and invitations (the account services enforce who may change what) and, for owners, the audit log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.roles import ROLE_LABELS, ROLES
from accounts.selectors import audit_event_list, invitation_get, invitation_list, membership_get, membership_list
from accounts.services import invitation_create, invitation_revoke, membership_remove, membership_role_change
from accounts.throttling import client_ip
from dashboard.forms import REFUSED_FORM_STATUS, form_submit
from dashboard.pages import DashboardRequest, dashboard_page
from dashboard.responses import service_action

ROLE_CHOICES = [(role, ROLE_LABELS[role]) for role in ROLES]
AUDIT_EVENTS_SHOWN = 100


class InvitationForm(forms.Form):
    email = forms.EmailField(label="E-mail")
    role = forms.ChoiceField(label="Role", choices=ROLE_CHOICES, initial="developer")


def _page(request: DashboardRequest, form: InvitationForm | None = None, status: int = 200) -> HttpResponse:
    workspace = request.workspace
    organization = workspace.require_organization()
    manage = workspace.can("manage_members")
    context = {
        "members": membership_list(organization=organization),
        "invitations": invitation_list(organization=organization) if manage else [],
        "form": (form or InvitationForm()) if manage else None,
        "roles": ROLE_CHOICES,
    }
    return render(request, "dashboard/members.html", context, status=status)


@dashboard_page("view_organization")
def member_list(request: DashboardRequest) -> HttpResponse:
    return _page(request)


@require_POST
@dashboard_page("manage_members")
def invitation_new(request: DashboardRequest) -> HttpResponse:
    form = InvitationForm(request.POST)
    created = form_submit(
        form,
        lambda data: invitation_create(
            organization=request.workspace.require_organization(),
            email=data["email"],
            role=data["role"],
            invited_by=request.user,
            ip=client_ip(request),
        ),
    )
    if created is not None:
        invitation, token = created
        link = request.build_absolute_uri(reverse("dashboard:invitation", args=[token]))
        messages.success(request, f"Invitation e-mailed to {invitation.email}. Its link: {link}")
        return redirect("dashboard:members")
    return _page(request, form, status=REFUSED_FORM_STATUS)


def _act(request: DashboardRequest, action: Callable[[], Any], done: str) -> HttpResponse:
    return service_action(request, action, done=done, to="dashboard:members")


@require_POST
@dashboard_page("manage_members")
def member_role(request: DashboardRequest, membership_id: int) -> HttpResponse:
    def change() -> None:
        membership = membership_get(organization=request.workspace.require_organization(), membership_id=membership_id)
        membership_role_change(
            membership=membership, role=request.POST.get("role", ""), actor=request.user, ip=client_ip(request)
        )

    return _act(request, change, "The role is changed.")


@require_POST
@dashboard_page("manage_members")
def member_remove(request: DashboardRequest, membership_id: int) -> HttpResponse:
    def remove() -> None:
        membership = membership_get(organization=request.workspace.require_organization(), membership_id=membership_id)
        membership_remove(membership=membership, actor=request.user, ip=client_ip(request))

    return _act(request, remove, "The member is removed.")


@require_POST
@dashboard_page("manage_members")
def invitation_cancel(request: DashboardRequest, invitation_id: int) -> HttpResponse:
    def revoke() -> None:
        invitation = invitation_get(organization=request.workspace.require_organization(), invitation_id=invitation_id)
        invitation_revoke(invitation=invitation, actor=request.user, ip=client_ip(request))

    return _act(request, revoke, "The invitation is revoked.")


@dashboard_page("view_audit_log")
def audit_log(request: DashboardRequest) -> HttpResponse:
    events = audit_event_list(organization=request.workspace.require_organization(), limit=AUDIT_EVENTS_SHOWN)
    return render(request, "dashboard/audit.html", {"events": events})
