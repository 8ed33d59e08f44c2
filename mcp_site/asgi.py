"""ASGI entry point.

Three kinds of HTTP traffic, three handlers:

* the gateway's hot path (``/v1/…`` and the Pollinations-native paths) and the operations
  endpoints go to :class:`gateway.handler.HotPathHandler`: async views, no per-request thread hop,
  no middleware (operations endpoints must answer probes that use the pod's IP as Host);
* everything else (admin, management API, dashboard) goes to Django's stock handler with the full
  middleware stack;
* WebSockets go to Channels.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcp_site.settings")
django_http = get_asgi_application()

# These imports need configured settings, hence after get_asgi_application().
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from gateway.handler import HotPathHandler  # noqa: E402
from gateway.urls import HOT_PATH_PREFIXES  # noqa: E402
from jobs.routing import websocket_urlpatterns as job_websockets  # noqa: E402
from mcp_site.lifespan import lifespan  # noqa: E402
from mcp_site.websocket import CookiesFromAllowedOrigins  # noqa: E402

OPS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
gateway_http = HotPathHandler("gateway.urls")
ops_http = HotPathHandler("mcp_site.ops_urls", traced=False)


async def http_router(scope, receive, send) -> None:
    path = scope["path"]
    if path in OPS_PATHS:
        await ops_http(scope, receive, send)
    elif path.startswith(HOT_PATH_PREFIXES):
        await gateway_http(scope, receive, send)
    else:
        await django_http(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": http_router,
        # The session (dashboard) is one of the ways a job socket authenticates, from an allowed Origin only;
        # API keys and JWTs are the others, from any origin or none (scripts send no Origin).
        "websocket": CookiesFromAllowedOrigins(AuthMiddlewareStack(URLRouter([*job_websockets]))),
        "lifespan": lifespan,
    }
)
