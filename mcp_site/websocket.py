"""WebSocket origin policy: the dashboard's session cookie is honoured only from an allowed origin.

Cross-site WebSocket hijacking rides on cookies a browser attaches by itself, so only a
connection that would authenticate with its cookies needs a trusted ``Origin``. A connection
from another origin, or with no ``Origin`` at all (a script, a server, a CLI), is served
without its cookies: it must authenticate with an API key or a JWT, which a foreign page cannot
borrow, and is refused (4401) otherwise.
"""

from __future__ import annotations

from django.conf import settings
from django.http.request import split_domain_port, validate_host

from core.asgi_types import ASGIApp, Receive, Scope, Send

__all__ = ["CookiesFromAllowedOrigins"]


class CookiesFromAllowedOrigins:
    """ASGI middleware in front of the session middleware: drops ``Cookie`` unless ``Origin`` is the
    connection's own origin — scheme, host and port, the host one of ``ALLOWED_HOSTS`` — or one of
    ``CSRF_TRUSTED_ORIGINS``, as Django's CSRF check judges a form's origin.

    The host alone is not enough: a browser sends its cookies for a host whatever the port or scheme,
    so another application on the same host name, or a plain-HTTP page of it, could otherwise read a
    signed-in member's live job events.
    """

    def __init__(self, application: ASGIApp) -> None:
        self.application = application

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = scope.get("headers", [])
        origin = next((value.decode("latin-1") for name, value in headers if name == b"origin"), None)
        if origin is None or not _trusted(scope, origin):
            scope = {**scope, "headers": [(name, value) for name, value in headers if name != b"cookie"]}
        return await self.application(scope, receive, send)


def _trusted(scope: Scope, origin: str) -> bool:
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    headers = dict(scope.get("headers", []))
    host = headers.get(b"host", b"").decode("latin-1")
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    return origin.lower() == f"{'https' if _secure(scope, headers) else 'http'}://{host.lower()}"


def _secure(scope: Scope, headers: dict[bytes, bytes]) -> bool:
    """Whether the browser reached us over TLS: ``wss`` here, or at the proxy ``SECURE_PROXY_SSL_HEADER`` names."""
    if scope.get("scheme") in ("wss", "https"):
        return True
    proxy = settings.SECURE_PROXY_SSL_HEADER
    if not proxy:
        return False
    name, value = proxy
    header = name.removeprefix("HTTP_").replace("_", "-").lower().encode("latin-1")
    return headers.get(header, b"").decode("latin-1").split(",")[0].strip() == value
