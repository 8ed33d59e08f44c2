"""Results: the organisation's generated images, audio and text, with their prompt, model and seed;
download, delete, and run again in the playground."""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.throttling import client_ip
from core.errors import ApplicationError
from dashboard.pages import DashboardRequest, dashboard_page
from dashboard.responses import service_action
from dashboard.results import result_card
from jobs.selectors import job_result_get, job_result_list, job_result_open, job_result_text
from jobs.services import job_result_delete
from jobs.types import JobKind

RESULTS_PER_PAGE = 24
#: Kinds whose result is words, shown on the card itself.
_TEXT_KINDS = (JobKind.TEXT, JobKind.TRANSCRIPTION)
#: Shown in place (an image, a player); any other type is only ever sent as a download, so a
#: result can never be a page of the dashboard's origin.
_INLINE_TYPES = ("image/", "audio/")


def _kind(value: str | None) -> str | None:
    return value if value in JobKind.values else None


def _results_url(*, kind: str | None, page: str | None) -> str:
    query = {name: value for name, value in (("kind", _kind(kind)), ("page", page)) if value}
    if "page" in query and not query["page"].isdigit():
        del query["page"]
    return reverse("dashboard:results") + (f"?{urlencode(query)}" if query else "")


@dashboard_page("view_jobs")
def result_list(request: DashboardRequest) -> HttpResponse:
    kind = _kind(request.GET.get("kind"))
    organization = request.workspace.require_organization()
    page = Paginator(job_result_list(organization_id=organization.pk, kind=kind), RESULTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    cards = [result_card(job, text=job_result_text(job=job) if job.kind in _TEXT_KINDS else "") for job in page]
    context = {"page": page, "cards": cards, "kind": kind, "kinds": JobKind.choices}
    return render(request, "dashboard/results.html", context)


def _file(request: DashboardRequest, job_id: str, *, download: bool) -> FileResponse:
    try:
        job = job_result_get(organization_id=request.workspace.require_organization().pk, job_id=job_id)
        handle = job_result_open(job=job)
    except ApplicationError as exc:
        raise Http404(exc.message) from None
    content_type = job.result_content_type or "application/octet-stream"
    inline = not download and content_type.startswith(_INLINE_TYPES)
    filename = f"{job.kind}-{job.id}{PurePosixPath(job.result_name).suffix}"
    response = FileResponse(handle, as_attachment=not inline, filename=filename, content_type=content_type)
    response["Cache-Control"] = "private, max-age=300"
    return response


@dashboard_page("view_jobs")
def result_file(request: DashboardRequest, job_id: str) -> FileResponse:
    """The result itself, shown in place on the page (images and audio)."""
    return _file(request, job_id, download=False)


@dashboard_page("view_jobs")
def result_download(request: DashboardRequest, job_id: str) -> FileResponse:
    return _file(request, job_id, download=True)


@require_POST
@dashboard_page("manage_results")
def result_delete(request: DashboardRequest, job_id: str) -> HttpResponse:
    def delete() -> None:
        job = job_result_get(organization_id=request.workspace.require_organization().pk, job_id=job_id)
        job_result_delete(job=job, actor=request.user, ip=client_ip(request))

    back = _results_url(kind=request.POST.get("kind"), page=request.POST.get("page"))
    return service_action(request, delete, done="The result and its file are deleted.", to=back)
