"""ASGI entry point.

Three kinds of HTTP traffic, three handlers, one routing decision: the path is resolved once
against the site's URLs (:mod:`mcp_site.urls`), and

* a route listed in :mod:`mcp_site.hot_urls` (the gateway's hot path ``/v1/…``, the
  Pollinations-native paths, the legacy text catch-all, the operations endpoints) is served with that match by
  :class:`gateway.handler.HotPathHandler`: async views, no per-request thread hop, no middleware
  (operations endpoints must answer probes that use the pod's IP as Host);
* everything else (admin, management API, dashboard) goes to Django's stock handler with the full
  middleware stack, its body bounded first (413 in the error shape, never Django's own page);
* WebSockets go to Channels.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcp_site.settings")
django_http = get_asgi_application()

# These imports need configured settings, hence after get_asgi_application().
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import get_resolver, re_path  # noqa: E402

from core import request_id  # noqa: E402
from core.asgi_types import Message, Receive, Scope, Send  # noqa: E402
from core.errors import HttpError, error_body, error_response, not_found  # noqa: E402
from gateway.handler import (  # noqa: E402
    MAX_BODY_BYTES,
    HotPathHandler,
    Routes,
    add_security_headers,
    nul_refusal,
    path_info,
    read_body,
    send_whole,
)
from jobs.routing import websocket_urlpatterns as job_websockets  # noqa: E402
from mcp_site.hot_urls import OPS_ROUTES, hot_view_names  # noqa: E402
from mcp_site.lifespan import lifespan  # noqa: E402
from mcp_site.websocket import CookiesFromAllowedOrigins  # noqa: E402

hot_http = HotPathHandler("mcp_site.hot_urls", ops_routes=OPS_ROUTES)
HOT_VIEWS = hot_view_names()
site_urls = Routes(get_resolver())


async def http_router(scope: Scope, receive: Receive, send: Send) -> None:
    if (refusal := nul_refusal(scope)) is not None:
        await refuse(refusal, dict(scope["headers"]), send)
        return
    match = site_urls.resolve(path_info(scope))
    if match is not None and match.view_name in HOT_VIEWS:
        await hot_http(scope, receive, send, match)
    else:
        await bounded_django_http(scope, receive, send)


async def bounded_django_http(scope: Scope, receive: Receive, send: Send) -> None:
    """Django's handler, with the body read first and refused (413) past ``DATA_UPLOAD_MAX_MEMORY_SIZE``."""
    headers = dict(scope["headers"])
    try:
        body = await read_body(receive, headers, settings.DATA_UPLOAD_MAX_MEMORY_SIZE or MAX_BODY_BYTES)
    except HttpError as exc:
        await refuse(exc, headers, send)
        return
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    await django_http(scope, replay, send)


async def refuse(error: HttpError, headers: dict[bytes, bytes], send: Send) -> None:
    """Answer ``error`` before any handler saw the request (its request id echoed, as a handler would)."""
    response = error_response(error)
    response["X-Request-ID"] = request_id.from_headers(headers.get(b"x-request-id", b"").decode("latin-1"))
    add_security_headers(response, None)
    await send_whole(response, send)


async def websocket_not_found(scope: Scope, receive: Receive, send: Send) -> None:
    """A socket to a path no consumer serves: refused with the site's 404, not the router's exception (a 500).

    The 404 goes out as the handshake's answer where the server can send one (the ASGI
    ``websocket.http.response`` extension, which uvicorn has); elsewhere the handshake is refused (403).
    uvicorn 0.54's sans-I/O WebSocket protocol still logs "returned without completing handshake" after
    such an answer (it does not count it as the handshake's end); the client gets the 404 all the same.
    """
    await receive()  # websocket.connect
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 1000})
        return
    error = not_found()
    body = error_body(error)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "websocket.http.response.start", "status": error.status, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": body})


application = ProtocolTypeRouter(
    {
        "http": http_router,
        # The session (dashboard) is one of the ways a job socket authenticates, from an allowed Origin only;
        # API keys and JWTs are the others, from any origin or none (scripts send no Origin).
        "websocket": CookiesFromAllowedOrigins(
            # Channels routes ASGI applications; Django's stubs expect a view returning a response.
            AuthMiddlewareStack(URLRouter([*job_websockets, re_path(r"", websocket_not_found)]))  # type: ignore[arg-type]
        ),
        "lifespan": lifespan,
    }
)
