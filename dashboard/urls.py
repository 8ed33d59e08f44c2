"""Dashboard URLs, mounted at the site root (before the legacy text catch-all)."""

from django.urls import path

from dashboard.views import account, home

app_name = "dashboard"

urlpatterns = [
    path("", home.home, name="home"),
    path("organization/switch/", account.organization_switch, name="organization-switch"),
    path("invitations/<str:token>/", account.invitation, name="invitation"),
]
