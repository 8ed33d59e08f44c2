"""Write operations on jobs and webhooks: the app's public surface with :mod:`jobs.selectors`."""

from jobs.services.jobs import (
    MAX_IDEMPOTENCY_KEY_LENGTH,
    MAX_INPUT_CONTENT_TYPE_LENGTH,
    job_cancel,
    job_create,
    job_defer,
    job_fail_or_retry,
    job_heartbeat,
    job_progress,
    job_reap,
    job_requeue,
    job_start,
    job_succeed,
)
from jobs.services.purge import expired_files_purge
from jobs.services.results import job_result_delete
from jobs.services.webhooks import (
    UPDATABLE_FIELDS,
    webhook_attempt_record,
    webhook_deliveries_create,
    webhook_delivery_redeliver,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_secret_rotate,
    webhook_endpoint_update,
    webhook_secret_generate,
    webhook_secrets_reencrypt,
)

__all__ = [
    "MAX_IDEMPOTENCY_KEY_LENGTH",
    "MAX_INPUT_CONTENT_TYPE_LENGTH",
    "UPDATABLE_FIELDS",
    "expired_files_purge",
    "job_cancel",
    "job_create",
    "job_defer",
    "job_fail_or_retry",
    "job_heartbeat",
    "job_progress",
    "job_reap",
    "job_requeue",
    "job_result_delete",
    "job_start",
    "job_succeed",
    "webhook_attempt_record",
    "webhook_deliveries_create",
    "webhook_delivery_redeliver",
    "webhook_endpoint_create",
    "webhook_endpoint_delete",
    "webhook_endpoint_secret_rotate",
    "webhook_endpoint_update",
    "webhook_secret_generate",
    "webhook_secrets_reencrypt",
]
