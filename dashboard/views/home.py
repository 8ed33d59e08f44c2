"""Home: the organisation at a glance."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.http import HttpResponse
from django.shortcuts import render

from billing.selectors import usage_overview
from dashboard.pages import DashboardRequest, dashboard_page
from gateway.health import provider_health
from jobs.selectors import job_recent

LATEST_JOBS = 5


@dashboard_page()
def home(request: DashboardRequest) -> HttpResponse:
    """Requests and spend today and this period, credits, quotas, provider health, the latest jobs."""
    workspace = request.workspace
    context: dict = {"providers": async_to_sync(provider_health)()}
    if workspace.organization is not None:
        org_id = workspace.organization.pk
        if workspace.can("view_usage"):
            context["overview"] = usage_overview(organization_id=org_id)
        if workspace.can("view_jobs"):
            context["jobs"] = job_recent(organization_id=org_id, limit=LATEST_JOBS)
    return render(request, "dashboard/home.html", context)
