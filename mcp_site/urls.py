"""URL map: operations endpoints, gateway, admin, management API and its OpenAPI schema, dashboard sign-in."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.views import admin_login
from gateway.views.native import legacy_text

urlpatterns = [
    # Also served by mcp_site.asgi without Django's middleware; listed here for the test client and runserver.
    path("", include("mcp_site.ops_urls")),
    path("", include("gateway.urls")),
    # Before admin.site.urls so that the rate-limited sign-in answers /admin/login/.
    path("admin/login/", admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("accounts.urls")),
    path("api/", include("jobs.urls")),
    path("api/", include("billing.urls")),
    # django-allauth: dashboard sign-in, and OpenID Connect when OIDC_PROVIDER_URL is set.
    path("accounts/", include("allauth.urls")),
    # The dashboard, at the root.
    path("", include("dashboard.urls")),
    # Last: the legacy text host answered GET /{prompt} at its root. Only paths nothing else claims get here.
    re_path(r"^(?P<prompt>[^/].*)$", legacy_text, name="legacy-text"),
]
