"""The person's own things: switching organisation, creating one, accepting an invitation (signing up with it)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.services import invitation_accept, invitation_get_by_token, organization_create, user_register
from accounts.throttling import attempt_check, client_ip
from core.errors import ApplicationError
from dashboard.pages import DashboardRequest, dashboard_page
from dashboard.workspace import workspace_switch


@require_POST
@dashboard_page()
def organization_switch(request: HttpRequest) -> HttpResponse:
    """Make another of the person's organisations the current one."""
    if not workspace_switch(request, slug=request.POST.get("organization", "")):
        messages.error(request, "You are not a member of that organisation.")
    return redirect("dashboard:home")


@require_POST
@dashboard_page()
def organization_new(request: DashboardRequest) -> HttpResponse:
    """Create an organisation with the person as its owner, and make it the current one (as ``POST /api/orgs``)."""
    try:
        organization = organization_create(
            name=request.POST.get("name", ""),
            owner=request.user,
            ip=client_ip(request),
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        workspace_switch(request, slug=organization.slug)
        messages.success(request, f"{organization.name} is created; you are its owner.")
    return redirect("dashboard:home")


class InvitationSignUpForm(forms.Form):
    full_name = forms.CharField(label="Full name", max_length=150, required=False)
    password = forms.CharField(label="Password", widget=forms.PasswordInput, strip=False)


def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """Show an invitation; accept it signed in, or create the invited account (also when sign-up is invite-only)."""
    try:
        pending = invitation_get_by_token(token=token)
    except ApplicationError as exc:
        return render(request, "dashboard/invitation.html", {"error": exc.message}, status=404)
    context: dict = {"invitation": pending, "token": token}
    user = request.user
    if request.method == "POST" and user.is_authenticated:
        try:
            invitation_accept(token=token, user=user, ip=client_ip(request))
        except ApplicationError as exc:
            context["error"] = exc.message
        else:
            workspace_switch(request, slug=pending.organization.slug)
            messages.success(request, f"You joined {pending.organization.name}.")
            return redirect("dashboard:home")
    form = InvitationSignUpForm(request.POST if request.method == "POST" and not user.is_authenticated else None)
    if form.is_bound and form.is_valid():
        try:
            attempt_check(request, scope="register", account=pending.email, count_account=True)
            new_user = user_register(
                email=pending.email,
                password=form.cleaned_data["password"],
                full_name=form.cleaned_data["full_name"],
                invitation_token=token,
                ip=client_ip(request),
            )
        except ApplicationError as exc:
            form.add_error("password" if exc.param == "password" else None, exc.message)
        else:
            login(request, new_user, backend="django.contrib.auth.backends.ModelBackend")
            workspace_switch(request, slug=pending.organization.slug)
            messages.success(request, f"Welcome! You joined {pending.organization.name}.")
            return redirect("dashboard:home")
    context["form"] = form
    return render(request, "dashboard/invitation.html", context)  # a refused form too: see REFUSED_FORM_STATUS
