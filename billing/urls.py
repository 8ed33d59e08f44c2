"""Billing's management API URLs, mounted at ``/api/``."""

from django.urls import path

from billing.apis import UsageSummaryApi

app_name = "billing"
urlpatterns = [
    path("usage", UsageSummaryApi.as_view(), name="usage"),
    path("orgs/<slug:org_slug>/usage", UsageSummaryApi.as_view(), name="org-usage"),
]
