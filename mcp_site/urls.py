"""URL map: operations endpoints, admin, management API and its OpenAPI schema, dashboard sign-in."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.views import admin_login
from mcp_site import health, metrics

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    # Before admin.site.urls so that the rate-limited sign-in answers /admin/login/.
    path("admin/login/", admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("accounts.urls")),
    # django-allauth: dashboard sign-in, and OpenID Connect when OIDC_PROVIDER_URL is set.
    path("accounts/", include("allauth.urls")),
]
