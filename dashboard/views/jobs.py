"""Jobs: the organisation's jobs, updated live over ``/ws/jobs/``; cancel, retry, open the result."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from dashboard.pages import DashboardRequest, dashboard_page
from dashboard.responses import service_action
from jobs.models import Job
from jobs.results import result_url
from jobs.selectors import job_get_sync, job_recent
from jobs.services import job_cancel, job_requeue
from jobs.types import TERMINAL, JobKind, JobStatus

JOBS_LISTED = 50


def _result_link(job: Job) -> str | None:
    return result_url(job_id=str(job.id))[0] if job.status == JobStatus.SUCCEEDED and job.result_name else None


@dashboard_page("view_jobs")
def job_list(request: DashboardRequest) -> HttpResponse:
    status = request.GET.get("status") if request.GET.get("status") in JobStatus.values else None
    kind = request.GET.get("kind") if request.GET.get("kind") in JobKind.values else None
    organization = request.workspace.require_organization()
    jobs = job_recent(organization_id=organization.pk, limit=JOBS_LISTED, status=status, kind=kind)
    rows = [{"job": job, "result": _result_link(job), "finished": job.status in TERMINAL} for job in jobs]
    context = {
        "rows": rows,
        "status": status,
        "kind": kind,
        "statuses": JobStatus.values,
        "kinds": JobKind.values,
    }
    return render(request, "dashboard/jobs.html", context)


def _change(request: DashboardRequest, job_id: str, service: Callable[..., object], done: str) -> HttpResponse:
    def change() -> None:
        service(job=job_get_sync(organization_id=request.workspace.require_organization().pk, job_id=job_id))

    return service_action(request, change, done=done, to="dashboard:jobs")


@require_POST
@dashboard_page("call_gateway")
def job_cancel_view(request: DashboardRequest, job_id: str) -> HttpResponse:
    return _change(request, job_id, job_cancel, "The job is cancelled.")


@require_POST
@dashboard_page("call_gateway")
def job_retry_view(request: DashboardRequest, job_id: str) -> HttpResponse:
    return _change(request, job_id, job_requeue, "The job is queued again.")
