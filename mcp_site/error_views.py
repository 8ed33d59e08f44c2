"""The site's error answers: JSON in the one error shape, or a page for a person's browser.

Django calls these (``handler400`` … ``handler500`` in :mod:`mcp_site.urls`) for the URLs it serves
itself; :func:`reserved_not_found` answers a reserved path that no route claimed. A browser
navigating the site (it asks for ``text/html``) outside ``/api/`` gets the same status and message
as a page; scripts, ``/api/`` and htmx requests get the JSON.
"""

from __future__ import annotations

import structlog
from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.template.loader import render_to_string
from django.utils.deprecation import MiddlewareMixin
from django.views.decorators.csrf import csrf_exempt

from core.errors import (
    INTERNAL_ERROR,
    ApplicationError,
    HttpError,
    body_too_large,
    error_response,
    invalid,
    method_not_allowed,
    not_found,
    not_permitted,
)
from gateway.handler import where

log = structlog.get_logger("mcp.site")


#: The title of an error page, by status.
PAGE_TITLES = {
    400: "Bad request",
    401: "Not authorised",
    403: "Not allowed",
    404: "Page not found",
    405: "Method not allowed",
    413: "Too large",
    500: "Server error",
    503: "Unavailable",
}


def wants_page(request: HttpRequest) -> bool:
    """A browser navigating the site, not a script, an API client or an htmx request."""
    return (
        "text/html" in request.headers.get("Accept", "")
        and not request.path.startswith("/api/")
        and "HX-Request" not in request.headers
    )


def answer(request: HttpRequest, error: ApplicationError) -> HttpResponse:
    """``error`` as a page for a browser (:func:`wants_page`), else in the JSON error shape."""
    response = error_response(error)
    if wants_page(request):
        # A self-contained template: nothing on it reads the database, which may be what failed.
        title = PAGE_TITLES.get(error.status, "Error")
        response.content = render_to_string("error_page.html", {"title": title, "message": error.message})
        response["Content-Type"] = "text/html; charset=utf-8"
    return response


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return answer(request, invalid("The request is malformed.", code="invalid_request"))


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return answer(request, not_permitted("You are not allowed to do this."))


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return answer(request, not_found())


def server_error(request: HttpRequest) -> HttpResponse:
    return answer(request, INTERNAL_ERROR)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: a form posted without its CSRF token (or from another origin)."""
    return answer(
        request,
        HttpError(
            403,
            "The CSRF check failed: reload the page and submit the form again.",
            type="permission_error",
            code="csrf_failed",
        ),
    )


def favicon(request: HttpRequest) -> HttpResponse:
    """No icon, said once a day: browsers ask on every page, and a 404 is a console error each time."""
    response = HttpResponse(status=204)
    del response["Content-Type"]  # no content, so no type (Django labels every response text/html)
    response["Cache-Control"] = "public, max-age=86400"
    return response


@csrf_exempt
def reserved_not_found(request: HttpRequest) -> HttpResponse:
    """A path under a reserved prefix that nothing claimed (so it never becomes a legacy text prompt)."""
    return answer(request, not_found())


class ErrorShapeMiddleware(MiddlewareMixin):
    """An exception a view lets escape becomes an answer in the error shape, never Django's page.

    The gateway's own errors keep their status; a malformed or oversized request is the caller's
    400/413; anything else is a 500 whose log line names the exception type and place, no traceback.
    A wrong method answered by a page's own renderer (HTML, YAML, Django's empty 405) becomes the
    JSON 405 with its ``Allow``.
    """

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, ApplicationError):
            return answer(request, exception)
        if isinstance(exception, Http404 | PermissionDenied):
            return None  # Django's own answer (handler404/handler403 above)
        if isinstance(exception, RequestDataTooBig):
            return answer(request, body_too_large(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0))
        if isinstance(exception, SuspiciousOperation):
            return bad_request(request, exception)
        log.error("unhandled_error", error_type=type(exception).__name__, where=where(exception))
        return server_error(request)

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        """A 405 that a page's own renderer answered (Django's empty one, an HTML or YAML page) in the error shape."""
        if response.status_code != 405 or response.get("Content-Type", "").startswith("application/json"):
            return response
        allowed = [method.strip() for method in response.get("Allow", "").split(",") if method.strip()]
        return answer(request, method_not_allowed(*allowed))


__all__ = [
    "ErrorShapeMiddleware",
    "answer",
    "bad_request",
    "csrf_failure",
    "favicon",
    "page_not_found",
    "permission_denied",
    "reserved_not_found",
    "server_error",
    "wants_page",
]
