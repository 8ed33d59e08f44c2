"""The ``/v1/jobs`` URLs: submit, read, list, cancel, signed result downloads, provider callbacks.

Hot-path routes beside the gateway's: :mod:`mcp_site.urls` and :mod:`mcp_site.hot_urls` mount them.
"""

from django.urls import path

from jobs import callbacks, views

urlpatterns = [
    path("v1/jobs", views.jobs_collection, name="v1-jobs"),
    path("v1/jobs/callbacks/<slug:provider>", callbacks.provider_callback, name="v1-job-callback"),
    path("v1/jobs/<uuid:job_id>", views.job_detail, name="v1-job"),
    path("v1/jobs/<uuid:job_id>/result", views.job_result, name="v1-job-result"),
]
