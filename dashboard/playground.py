"""Playground runs go through the gateway's own ``/v1`` views, as the signed-in person.

The browser never holds a credential: each signed-in session gets a playground API key of its
own (created through :func:`accounts.services.api_key_create` for the person, all scopes, expiring
after :data:`KEY_LIFETIME`), whose secret is kept encrypted in the server-side session. A run is
an in-process call of the ``/v1`` view with that key, so it is authenticated, limited, billed and
logged exactly like any API call; the key shows on the API keys page, where it can be revoked (the
next run then makes a new one).
"""

from __future__ import annotations

import datetime as dt
import io
import secrets

from django.core.exceptions import PermissionDenied
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponseBase
from django.urls import resolve
from django.utils import timezone

from accounts.models import User
from accounts.roles import MODALITIES
from accounts.services import api_key_create
from core.crypto import decrypt, encrypt
from core.errors import HttpError, error_response
from dashboard.workspace import Workspace

SESSION_KEY = "dashboard_playground_keys"
KEY_LIFETIME = dt.timedelta(days=1)
#: What the playground runs, and the ``/v1`` path each goes to.
OPERATIONS: dict[str, str] = {
    "chat": "/v1/chat/completions",
    "image": "/v1/images/generations",
    "speech": "/v1/audio/speech",
    "transcription": "/v1/audio/transcriptions",
}


def playground_secret(request: HttpRequest, workspace: Workspace, *, renew: bool = False) -> str:
    """The session's playground key for the current organisation, created when missing, expiring or ``renew``."""
    organization = workspace.require_organization()
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied("Sign in first.")
    keys = request.session.get(SESSION_KEY, {})
    stored = keys.get(str(organization.pk))
    now = timezone.now()
    if stored and not renew and stored["until"] > (now + dt.timedelta(minutes=5)).timestamp():
        secret = decrypt(stored["secret"])
        if secret:
            return secret
    expires = now + KEY_LIFETIME
    _key, secret = api_key_create(
        organization=organization,
        name=f"Playground · {user.email} · {secrets.token_hex(3)}",
        scopes=MODALITIES,
        created_by=user,
        expires_at=expires,
    )
    keys[str(organization.pk)] = {"secret": encrypt(secret), "until": expires.timestamp()}
    request.session[SESSION_KEY] = keys
    return secret


async def gateway_call(request: HttpRequest, *, operation: str, secret: str) -> HttpResponseBase:
    """Call the ``/v1`` view of ``operation`` in-process with the playground key; its response, as a client gets it."""
    path = OPERATIONS[operation]
    headers = [
        (b"authorization", f"Bearer {secret}".encode()),
        (b"content-type", request.headers.get("Content-Type", "application/json").encode("latin-1")),
        (b"host", request.get_host().encode("latin-1")),
    ]
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": request.scheme,
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": (request.META.get("REMOTE_ADDR") or "127.0.0.1", 0),
        "server": ("dashboard", 0),
    }
    call = ASGIRequest(scope, io.BytesIO(request.body))
    # The dashboard request's id: the ledger records the run under it, and the page asks for its cost with it.
    call.request_id = request.request_id  # type: ignore[attr-defined]  # set by mcp_site.middleware
    match = resolve(path, urlconf="gateway.urls")
    try:
        return await match.func(call, *match.args, **match.kwargs)
    except HttpError as exc:
        return error_response(exc)
