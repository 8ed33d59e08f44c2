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
from django.http.request import RawPostDataException
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
    body, content_type = _body(request)
    headers = [
        (b"authorization", f"Bearer {secret}".encode()),
        (b"content-type", content_type.encode("latin-1")),
        # Django parses a multipart body only as far as its declared length (none: an empty form).
        (b"content-length", str(len(body)).encode()),
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
    call = ASGIRequest(scope, io.BytesIO(body))
    # The dashboard request's id: the ledger records the run under it, and the page asks for its cost with it.
    call.request_id = request.request_id  # type: ignore[attr-defined]  # set by mcp_site.middleware
    match = resolve(path, urlconf="gateway.urls")
    try:
        return await match.func(call, *match.args, **match.kwargs)
    except HttpError as exc:
        return error_response(exc)


def _body(request: HttpRequest) -> tuple[bytes, str]:
    """The run's body and its content type, as the browser sent them.

    An upload (Transcription) is a multipart form whose stream the CSRF check has already read (it
    looks for the token among the form's fields), so ``request.body`` is gone: the parsed form is
    encoded again, without the CSRF token, which is the dashboard's and not the gateway's.
    """
    content_type = request.headers.get("Content-Type", "application/json")
    try:
        return request.body, content_type
    except RawPostDataException:
        boundary = secrets.token_hex(16)
        return _multipart(request, boundary), f"multipart/form-data; boundary={boundary}"


def _multipart(request: HttpRequest, boundary: str) -> bytes:
    def quoted(text: str) -> str:  # as browsers escape a form's names (HTML's multipart/form-data encoding)
        return text.replace("\r", "%0D").replace("\n", "%0A").replace('"', "%22")

    parts: list[bytes] = []
    for name, values in request.POST.lists():
        if name == "csrfmiddlewaretoken":
            continue
        for value in values:
            head = f'Content-Disposition: form-data; name="{quoted(name)}"'
            parts.append(head.encode() + b"\r\n\r\n" + value.encode())
    for name, files in request.FILES.lists():
        for upload in files:
            head = (
                f'Content-Disposition: form-data; name="{quoted(name)}"; filename="{quoted(upload.name or "")}"\r\n'
                f"Content-Type: {upload.content_type or 'application/octet-stream'}"
            )
            parts.append(head.encode() + b"\r\n\r\n" + upload.read())
    delimiter = b"--" + boundary.encode()
    return b"".join(delimiter + b"\r\n" + part + b"\r\n" for part in parts) + delimiter + b"--\r\n"
