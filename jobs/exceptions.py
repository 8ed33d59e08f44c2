"""Errors raised by the jobs services, subclasses of :class:`core.errors.ApplicationError`: the ``/api``
exception handler renders them, and the ``/v1/jobs`` views answer them in the same shape.
"""

from __future__ import annotations

from core.errors import ApplicationError

__all__ = [
    "ApplicationError",
    "CallbackRefused",
    "IdempotencyConflict",
    "InvalidWebhookEndpoint",
    "InvalidWebhookUrl",
    "JobNotCancellable",
    "JobNotFound",
    "JobResultNotFound",
    "UnsafeWebhookUrl",
    "WebhookDeliveryNotFound",
    "WebhookEndpointNotFound",
]


class JobNotFound(ApplicationError):
    status = 404
    type = "not_found_error"
    code = "job_not_found"
    message = "No such job in this organisation. GET /v1/jobs lists them."


class JobResultNotFound(ApplicationError):
    status = 404
    type = "not_found_error"
    code = "result_not_found"
    message = "No such result in this organisation: the job has not finished, or its result was deleted."


class JobNotCancellable(ApplicationError):
    status = 409
    code = "job_not_cancellable"
    message = "The job has already finished; only queued or running jobs can be cancelled."


class IdempotencyConflict(ApplicationError):
    status = 422
    code = "idempotency_key_reused"
    message = "This Idempotency-Key was already used with a different request. Use a new key for a new job."


class UnsafeWebhookUrl(ApplicationError):
    """A webhook URL that points (or resolves, or redirects) to an address the gateway will not call."""

    status = 400
    code = "unsafe_webhook_url"
    message = (
        "Webhook URLs must be http(s) URLs of public hosts: loopback, private, link-local and metadata "
        "addresses are refused."
    )


class InvalidWebhookUrl(ApplicationError):
    """A webhook URL that is not a well-formed http(s) URL (``param`` names the field)."""

    status = 400
    code = "invalid_value"
    message = "Webhook URLs must be well-formed http(s) URLs."


class WebhookEndpointNotFound(ApplicationError):
    status = 404
    type = "not_found_error"
    code = "webhook_not_found"
    message = "No such webhook endpoint in this organisation."


class WebhookDeliveryNotFound(ApplicationError):
    status = 404
    type = "not_found_error"
    code = "delivery_not_found"
    message = "No such delivery for this webhook endpoint. GET …/webhooks/<id>/deliveries lists them."


class InvalidWebhookEndpoint(ApplicationError):
    """A field of a webhook endpoint the model refuses (``param`` names it)."""

    status = 400
    code = "invalid_value"


class CallbackRefused(ApplicationError):
    status = 401
    type = "authentication_error"
    code = "callback_refused"
    message = "The callback is unsigned, wrongly signed, too old or a replay; it was ignored."
