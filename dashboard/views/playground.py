"""Playground: Text (streamed), Image, Speech and Transcription, run through the gateway as the person."""

from __future__ import annotations

import datetime as dt

from asgiref.sync import async_to_sync, sync_to_async
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from billing.selectors import plan_get_for_org, usage_cost_of_request
from core.errors import ApplicationError, HttpError, error_response, not_permitted
from dashboard.pages import DashboardRequest, dashboard_page
from dashboard.playground import OPERATIONS, gateway_call, playground_secret
from dashboard.results import PLAYGROUND_DEFAULTS, playground_values
from dashboard.templatetags.dashboard import credits
from dashboard.workspace import Workspace, workspace_for
from gateway.catalog import model_catalog
from jobs.selectors import job_get_sync

#: The voices offered for speech (OpenAI's names, which Pollinations serves too).
VOICES = ("alloy", "echo", "fable", "onyx", "nova", "shimmer")
#: The image sizes offered.
IMAGE_SIZES = ("512x512", "1024x1024", "1024x1536", "1536x1024")
#: How long after a run its cost may be asked for.
COST_WINDOW = dt.timedelta(minutes=10)


#: The playground's own refusals, in the one error shape (``docs/errors.md``).
SIGNED_OUT = HttpError(401, "Sign in again: your session ended.", type="authentication_error", code="not_signed_in")
UNKNOWN_OPERATION = HttpError(404, "Unknown playground operation.", type="not_found_error", code="not_found")


async def _models(organization_id: int) -> dict[str, list[str]]:
    plan = await plan_get_for_org(organization_id=organization_id)
    return await model_catalog(OPERATIONS, allowed=plan.allowed_models if plan else ())


def _values(request: DashboardRequest) -> dict[str, dict]:
    """Each form's starting values; ``?job=<id>`` ("Run again") fills one in with that job's request."""
    values = {operation: dict(defaults) for operation, defaults in PLAYGROUND_DEFAULTS.items()}
    job_id = request.GET.get("job")
    if job_id:
        try:
            job = job_get_sync(organization_id=request.workspace.require_organization().pk, job_id=job_id)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            operation, prefilled = playground_values(job)
            values[operation] = prefilled
    return values


@dashboard_page("call_gateway")
def playground(request: DashboardRequest) -> HttpResponse:
    """The page: one form per modality; the models are the live registry's, limited to the plan's list."""
    models = async_to_sync(_models)(request.workspace.require_organization().pk)
    context = {"models": models, "voices": VOICES, "sizes": IMAGE_SIZES, "values": _values(request)}
    return render(request, "dashboard/playground.html", context)


async def _workspace(request: HttpRequest) -> Workspace | HttpResponse:
    """The workspace of a signed-in person whose role may call the gateway, or the refusal to answer."""
    user = await request.auser()
    if not user.is_authenticated:
        return error_response(SIGNED_OUT)
    workspace = await sync_to_async(workspace_for)(request)
    if not workspace.can("call_gateway"):
        return error_response(not_permitted("Your role does not allow calling the gateway."))
    return workspace


@require_POST
async def playground_run(request: HttpRequest, operation: str) -> HttpResponseBase:
    """Run one request through the gateway's ``/v1`` view; answers exactly what the API would (streamed)."""
    if operation not in OPERATIONS:
        return error_response(UNKNOWN_OPERATION)
    workspace = await _workspace(request)
    if isinstance(workspace, HttpResponseBase):
        return workspace
    try:
        secret = await sync_to_async(playground_secret)(request, workspace)
        response = await gateway_call(request, operation=operation, secret=secret)
        if response.status_code == 401:
            # The playground key was revoked or expired on the keys page: make a new one, once.
            secret = await sync_to_async(playground_secret)(request, workspace, renew=True)
            response = await gateway_call(request, operation=operation, secret=secret)
    except ApplicationError as exc:
        return error_response(exc)
    response["Cache-Control"] = "no-store"
    return response


@dashboard_page("call_gateway")
def playground_cost(request: DashboardRequest, request_id: str) -> JsonResponse:
    """The cost of a run, once the ledger has recorded it (the page asks a few times)."""
    cost = usage_cost_of_request(
        organization_id=request.workspace.require_organization().pk,
        client_request_id=request_id[:128],
        within=COST_WINDOW,
    )
    return JsonResponse(
        {"recorded": cost is not None, "cost": cost, "credits": None if cost is None else credits(cost)}
    )
