"""The one decorator every dashboard page goes through: signed in, workspace resolved, role checked."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import render

from accounts.models import User
from accounts.roles import ACTION_LABELS
from dashboard.workspace import Workspace, workspace_for

_View = Callable[..., HttpResponseBase]


class DashboardRequest(HttpRequest):
    """The request a :func:`dashboard_page` view receives: a signed-in person and their workspace."""

    user: User
    workspace: Workspace


def dashboard_page(action: str | None = None) -> Callable[[_View], _View]:
    """Require a signed-in person and, when ``action`` is given, a current role that allows it.

    The view receives ``request.workspace``. A role without the action gets a 403 page saying
    which permission is missing — the same rule that hides the link and the buttons.
    """

    def decorate(view: _View) -> _View:
        @login_required
        @wraps(view)
        def wrapper(request: DashboardRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            workspace = request.workspace = workspace_for(request)
            if action is not None and not workspace.can(action):
                context = {"needed": ACTION_LABELS.get(action, action)}
                return render(request, "dashboard/forbidden.html", context, status=403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
