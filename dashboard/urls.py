"""Dashboard URLs, mounted at the site root (before the legacy text catch-all)."""

from django.urls import path

from dashboard.views import account, home, jobs, keys, members, playground, results, usage, webhooks

app_name = "dashboard"

urlpatterns = [
    path("", home.home, name="home"),
    path("organization/switch/", account.organization_switch, name="organization-switch"),
    path("organization/new/", account.organization_new, name="organization-new"),
    path("playground/", playground.playground, name="playground"),
    path("playground/run/<slug:operation>/", playground.playground_run, name="playground-run"),
    path("playground/cost/<str:request_id>/", playground.playground_cost, name="playground-cost"),
    path("jobs/", jobs.job_list, name="jobs"),
    path("jobs/<uuid:job_id>/cancel/", jobs.job_cancel_view, name="job-cancel"),
    path("jobs/<uuid:job_id>/retry/", jobs.job_retry_view, name="job-retry"),
    path("results/", results.result_list, name="results"),
    path("results/<uuid:job_id>/file/", results.result_file, name="result-file"),
    path("results/<uuid:job_id>/download/", results.result_download, name="result-download"),
    path("results/<uuid:job_id>/delete/", results.result_delete, name="result-delete"),
    path("keys/", keys.key_list, name="keys"),
    path("keys/new/", keys.key_create, name="key-create"),
    path("keys/<int:key_id>/edit/", keys.key_edit, name="key-edit"),
    path("keys/<int:key_id>/rotate/", keys.key_rotate, name="key-rotate"),
    path("keys/<int:key_id>/revoke/", keys.key_revoke, name="key-revoke"),
    path("usage/", usage.usage, name="usage"),
    path("usage/export.csv", usage.usage_csv, name="usage-csv"),
    path("billing/", usage.billing, name="billing"),
    path("billing/invoices/<int:invoice_id>.<str:fmt>", usage.invoice_document, name="invoice"),
    path("members/", members.member_list, name="members"),
    path("members/invite/", members.invitation_new, name="member-invite"),
    path("members/<int:membership_id>/role/", members.member_role, name="member-role"),
    path("members/<int:membership_id>/remove/", members.member_remove, name="member-remove"),
    path("members/invitations/<int:invitation_id>/revoke/", members.invitation_cancel, name="invitation-revoke"),
    path("webhooks/", webhooks.webhook_list, name="webhooks"),
    path("webhooks/new/", webhooks.endpoint_create, name="webhook-create"),
    path("webhooks/<int:endpoint_id>/rotate/", webhooks.endpoint_rotate, name="webhook-rotate"),
    path("webhooks/<int:endpoint_id>/delete/", webhooks.endpoint_delete, name="webhook-delete"),
    path("webhooks/deliveries/<uuid:delivery_id>/redeliver/", webhooks.delivery_redeliver, name="webhook-redeliver"),
    path("audit/", members.audit_log, name="audit"),
    path("invitations/<str:token>/", account.invitation, name="invitation"),
]
