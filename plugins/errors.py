"""Errors a provider raises; the gateway maps them to HTTP answers in one place."""

from __future__ import annotations


class PluginError(Exception):
    """Base class of plugin errors."""


class PluginConfigurationError(PluginError):
    """A provider's configuration is invalid; the message names the setting and the fix."""


class UpstreamError(PluginError):
    """The upstream failed to answer usefully.

    :param status: the upstream's HTTP status, or ``None`` when no answer arrived.
    :param retryable: whether the same call may succeed on a retry or another provider.
    :param retry_after: seconds the upstream asked us to wait, if it said.
    :param client_message: a message safe to show the caller (no hosts, no secrets).
    :param client_status: the status the caller gets when this is the last failure.
    :param timeout: the upstream took too long (the caller gets 504 ``upstream_timeout``).
    :param unreachable: no connection could be made at all, so the request cannot have caused it.
    """

    def __init__(
        self,
        client_message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        client_status: int = 502,
        timeout: bool = False,
        unreachable: bool = False,
    ) -> None:
        super().__init__(client_message)
        self.client_message = client_message
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        self.client_status = client_status
        self.timeout = timeout
        self.unreachable = unreachable
