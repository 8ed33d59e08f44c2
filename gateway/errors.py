"""The gateway's mapping of upstream and routing failures to answers (:class:`core.errors.HttpError`).

A provider raises :class:`plugins.errors.UpstreamError`; the caller gets its honest class here, and
only here. Every answer is rendered in the one shape by :mod:`core.errors`.
"""

from __future__ import annotations

import math

from core.errors import HttpError
from plugins.errors import UpstreamError

__all__ = ["from_upstream", "model_not_found", "no_provider_available", "upstream_timeout"]


#: How much of an unknown model id an error message repeats (an id may be any length the caller sends).
_ECHOED_ID_CHARACTERS = 100


def model_not_found(model: str) -> HttpError:
    shown = model if len(model) <= _ECHOED_ID_CHARACTERS else f"{model[:_ECHOED_ID_CHARACTERS]}…"
    return HttpError(
        404,
        f"The model {shown!r} does not exist or is not served here. GET /v1/models lists the models.",
        code="model_not_found",
        param="model",
    )


def no_provider_available(retry_after: float | None) -> HttpError:
    """Every provider serving the model has its circuit open: no attempt was made."""
    seconds = max(1, math.ceil(retry_after or 1))
    return HttpError(
        503,
        f"No provider can serve this model right now. Retry in {seconds} s.",
        type="service_unavailable",
        code="no_provider_available",
        headers={"Retry-After": str(seconds)},
    )


def upstream_timeout() -> HttpError:
    return HttpError(
        504, "The upstream provider did not answer in time.", type="upstream_error", code="upstream_timeout"
    )


def from_upstream(error: UpstreamError) -> HttpError:
    """The last upstream failure, as the caller's answer: its honest class and the upstream's own ``Retry-After``."""
    status = error.client_status
    if error.timeout:
        return HttpError(504, error.client_message, type="upstream_error", code="upstream_timeout")
    headers = {}
    if error.retry_after is not None and status in (429, 503):
        headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
    if status == 429:
        return HttpError(
            429, error.client_message, type="rate_limit_error", code="upstream_rate_limited", headers=headers
        )
    if status == 503:
        return HttpError(
            503, error.client_message, type="service_unavailable", code="upstream_unavailable", headers=headers
        )
    if 400 <= status < 500:
        return HttpError(status, error.client_message, code="upstream_rejected")
    return HttpError(status, error.client_message, type="upstream_error", code="upstream_error")
