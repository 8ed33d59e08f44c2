"""Shapes shared by the dashboard's views: a button's POST that calls one service, a secret shown once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.errors import ApplicationError


def service_action(
    request: HttpRequest, call: Callable[[], Any], *, done: str | Callable[[Any], str], to: str
) -> HttpResponse:
    """Run ``call`` (one service call behind a button), tell how it went, and go back to the page ``to``.

    :param done: the message shown when the call succeeded, or a function making it from what
        ``call`` returned; a refusal shows the service's own message instead.
    :param to: the URL name (or URL) to redirect to, so a reload never repeats the POST.
    """
    try:
        result = call()
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done(result) if callable(done) else done)
    return redirect(to)


def render_secret(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    """A page showing a secret once: rendered like any page, but never kept by a browser or proxy cache."""
    response = render(request, template, context, status=status)
    response["Cache-Control"] = "no-store"
    return response
