"""Non-API views: the admin sign-in, wrapped in the same brute-force protection as the API."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from accounts.exceptions import TooManyAttempts
from accounts.throttling import attempt_check, attempt_failed


def admin_login(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
    """``admin.site.login`` with per-IP and per-account limits; a refusal is a plain 429 page."""
    account = request.POST.get("username", "") if request.method == "POST" else None
    if request.method == "POST":
        try:
            attempt_check(request, scope="login", account=account)
        except TooManyAttempts as exc:
            response = HttpResponse(exc.message, status=429, content_type="text/plain; charset=utf-8")
            response["Retry-After"] = str(exc.retry_after)
            return response
    response = admin.site.login(request, extra_context)
    # The admin answers a successful sign-in with a redirect and a failed one by showing the form again.
    if request.method == "POST" and response.status_code == 200:
        attempt_failed(request, scope="login", account=account)
    return response
