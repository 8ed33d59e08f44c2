"""WebSocket origin policy: the dashboard's session cookie is honoured only from an allowed origin.

Cross-site WebSocket hijacking rides on cookies a browser attaches by itself, so only a
connection that would authenticate with its cookies needs a trusted ``Origin``. A connection
from another origin, or with no ``Origin`` at all (a script, a server, a CLI), is served
without its cookies: it must authenticate with an API key or a JWT, which a foreign page cannot
borrow, and is refused (4401) otherwise.
"""

from __future__ import annotations

from urllib.parse import urlparse

from channels.security.websocket import AllowedHostsOriginValidator

from core.asgi_types import ASGIApp, Receive, Scope, Send

__all__ = ["CookiesFromAllowedOrigins"]


class CookiesFromAllowedOrigins:
    """ASGI middleware in front of the session middleware: drops ``Cookie`` unless ``Origin`` is
    one of ``ALLOWED_HOSTS`` (channels' own matching rules)."""

    def __init__(self, application: ASGIApp) -> None:
        self.application = application
        self._origins = AllowedHostsOriginValidator(application)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = scope.get("headers", [])
        origin = next((urlparse(value.decode("latin-1")) for name, value in headers if name == b"origin"), None)
        if not self._origins.valid_origin(origin):
            scope = {**scope, "headers": [(name, value) for name, value in headers if name != b"cookie"]}
        return await self.application(scope, receive, send)
