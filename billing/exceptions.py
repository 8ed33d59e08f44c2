"""Errors raised by the billing services (:class:`core.errors.ApplicationError` subclasses).

The API maps each to ``{"error": {...}}`` with its status.
"""

from __future__ import annotations

from core.errors import ApplicationError

__all__ = ["ApplicationError", "BillingInputError", "InvoiceStateError", "UnknownModel"]


class BillingInputError(ApplicationError):
    """A plan, price, subscription or payment that does not make sense."""

    status = 400
    code = "invalid_value"


class UnknownModel(BillingInputError):
    code = "model_not_found"


class InvoiceStateError(ApplicationError):
    """An invoice transition that its current status forbids (e.g. paying a void invoice)."""

    status = 409
    type = "invalid_request_error"
    code = "invoice_state"
