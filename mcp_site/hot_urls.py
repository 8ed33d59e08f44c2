"""Every URL the hot-path handler serves: operations endpoints, the gateway, jobs, the legacy text catch-all.

:mod:`mcp_site.asgi` resolves each request once against the site's URLs (:mod:`mcp_site.urls`, which
lists these too, the catch-all last); a route listed here is served by the hot-path handler with
that match, anything else by Django's stock handler (admin, ``/api``, dashboard). The legacy text
host answered ``GET /{prompt}`` at its root, so a path nothing else claims is a prompt — except
under the prefixes the site keeps for itself, which are never prompts.
"""

import re

from django.urls import URLPattern, URLResolver, get_resolver, include, path, re_path

from gateway.views.native import legacy_text

#: First path segments (or whole paths) that belong to the site, never to the legacy text catch-all.
RESERVED = ("api", "admin", "accounts", "static", "media", "ws", ".well-known", "v1", "favicon.ico", "robots.txt")
_RESERVED = "|".join(re.escape(name) for name in RESERVED)
#: A path under one of the reserved prefixes (what no route claimed there is a JSON 404, never a prompt).
RESERVED_PATH = rf"^(?:{_RESERVED})(?:/[\s\S]*)?$"
#: A legacy text prompt: any non-empty path that is not reserved. ``[\s\S]``, not ``.``: a prompt (or a
#: reserved path) may hold an encoded newline and must still match one of the two.
LEGACY_TEXT_PATH = rf"^(?!(?:{_RESERVED})(?:/|$))(?P<prompt>[^/][\s\S]*)$"
#: Operations endpoints: they answer probes that use the pod's IP as Host, and are not traced.
OPS_ROUTES = frozenset({"healthz", "readyz", "metrics"})

urlpatterns = [
    path("", include("mcp_site.ops_urls")),
    path("", include("gateway.urls")),
    path("", include("jobs.v1_urls")),
    re_path(LEGACY_TEXT_PATH, legacy_text, name="legacy-text"),
]


def hot_view_names() -> frozenset[str]:
    """The view names of every route above: a match with one of them is served on the hot path."""

    def names(patterns: list) -> set[str]:
        found: set[str] = set()
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                found |= names(pattern.url_patterns)
            elif isinstance(pattern, URLPattern) and pattern.name:
                found.add(pattern.name)
        return found

    return frozenset(names(get_resolver(__name__).url_patterns))
