"""URL map: operations endpoints, gateway, admin, management API and its OpenAPI schema, dashboard sign-in.

Error pages are JSON in the one error shape (:mod:`mcp_site.error_views`).
"""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.views import admin_login
from core.admin import guard_installed_admins
from gateway.views.native import legacy_text
from mcp_site import error_views
from mcp_site.hot_urls import LEGACY_TEXT_PATH, RESERVED_PATH

handler400 = error_views.bad_request
handler403 = error_views.permission_denied
handler404 = error_views.page_not_found
handler500 = error_views.server_error

# The operators' back-office carries the product's name; its index links the analytics and plugin pages.
admin.site.site_header = "MCP Gateway administration"
admin.site.site_title = "MCP Gateway"
admin.site.index_title = "Operations"
# Forged ids in an action or an autocomplete field are refused on the page by every list, not only the project's.
guard_installed_admins(admin.site)

urlpatterns = [
    # Served by mcp_site.asgi's hot-path handler, without Django's middleware (mcp_site.hot_urls lists them).
    path("", include("mcp_site.ops_urls")),
    path("", include("gateway.urls")),
    path("", include("jobs.v1_urls")),
    # Before admin.site.urls so that the rate-limited sign-in answers /admin/login/.
    path("admin/login/", admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # GET and HEAD only: DRF would answer OPTIONS by rendering its metadata with the page's template renderer (a 500).
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", http_method_names=["get", "head"]),
        name="api-docs",
    ),
    path("api/", include("accounts.urls")),
    path("api/", include("jobs.urls")),
    path("api/", include("billing.urls")),
    # django-allauth: dashboard sign-in, and OpenID Connect when OIDC_PROVIDER_URL is set.
    path("accounts/", include("allauth.urls")),
    # The dashboard, at the root.
    path("", include("dashboard.urls")),
    path("favicon.ico", error_views.favicon, name="favicon"),
    # Last: what nothing claimed under a reserved prefix is a JSON 404; any other path is a legacy text
    # prompt (the legacy text host answered GET /{prompt} at its root).
    re_path(RESERVED_PATH, error_views.reserved_not_found, name="reserved-not-found"),
    re_path(LEGACY_TEXT_PATH, legacy_text, name="legacy-text"),
]
