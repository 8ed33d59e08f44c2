"""Management API URLs of the jobs app, mounted at ``/api/`` beside :mod:`accounts.urls`.

Like every organisation-scoped resource they exist under ``orgs/<slug>/`` and at ``org/`` (the
organisation from the ``X-Organization`` header).
"""

from django.urls import path

from jobs.apis import webhooks

_org_scoped = [
    ("webhooks", webhooks.WebhookEndpointCollectionApi, "webhooks"),
    ("webhooks/<int:endpoint_id>", webhooks.WebhookEndpointDetailApi, "webhook"),
    ("webhooks/<int:endpoint_id>/deliveries", webhooks.WebhookDeliveryListApi, "webhook-deliveries"),
    (
        "webhooks/<int:endpoint_id>/deliveries/<str:delivery_id>/redeliver",
        webhooks.WebhookDeliveryRedeliverApi,
        "webhook-redeliver",
    ),
]

app_name = "jobs"
urlpatterns = [
    *[path(f"orgs/<slug:org_slug>/{p}", v.as_view(), name=f"org-{n}") for p, v, n in _org_scoped],
    *[path(f"org/{p}", v.as_view(), name=f"current-{n}") for p, v, n in _org_scoped],
]
