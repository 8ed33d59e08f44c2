"""Pooled upstream HTTP for providers: one connection pool per provider instance (:mod:`core.http_client`).

Neither httpx nor aiohttp on the hot path: httpx spent 3–4× more CPU per proxied request here
(see DESIGN.md), aiohttp 0.14 ms more than the gateway's own client. Errors are turned into
:class:`plugins.errors.UpstreamError` in one place.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

from core import http_client
from plugins.errors import UpstreamError
from plugins.types import UpstreamResponse

#: Connections kept per provider; enough for one worker's concurrency without exhausting the upstream.
POOL_SIZE = 256
KEEPALIVE_SECONDS = 30
#: Per-connection read buffer; reading pauses at twice this, which bounds a slow client's backlog.
READ_BUFFER_BYTES = 16 * 1024
#: Relayed as they are; hop-by-hop and encoding headers are the gateway's own business.
_DROPPED_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "content-encoding",
        "server",
        "date",
        "set-cookie",
        "trailer",
        "upgrade",
        "proxy-authenticate",
        "access-control-allow-origin",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-expose-headers",
    }
)
_RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Upstream answers that are the caller's mistake and are relayed as such.
_CLIENT_ERROR_STATUSES = frozenset({400, 413, 415, 422})
_MAX_ERROR_BODY = 64 * 1024
_MAX_CLIENT_MESSAGE = 500


class SessionPool:
    """Lazily creates the connection pool in the running event loop (its connections belong to that loop)."""

    def __init__(self, connect_timeout: float, read_timeout: float) -> None:
        self._timeouts = (connect_timeout, read_timeout)
        self._session: http_client.Pool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def session(self) -> http_client.Pool:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            connect, read = self._timeouts
            self._session = http_client.Pool(
                connect_timeout=connect,
                read_timeout=read,
                size=POOL_SIZE,
                keepalive=KEEPALIVE_SECONDS,
                read_buffer=READ_BUFFER_BYTES,
            )
            self._loop = loop
        return self._session

    async def aclose_in_running_loop(self) -> None:
        """Close the pool if it belongs to the running event loop (which is about to end)."""
        if self._session is not None and self._loop is asyncio.get_running_loop():
            await self.aclose()

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.aclose()
        self._session = None


async def send(
    pool: SessionPool,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    data: bytes | None = None,
) -> UpstreamResponse:
    """Send one request and return when the upstream's status and headers have arrived.

    :raises UpstreamError: retryable for connection failures, timeouts, 429 and 5xx (429 keeps its
        status, 503 too when the upstream said when to retry, 504 and timeouts are ``timeout``); not
        retryable (with the caller's status) for 400/413/415/422; otherwise a 502.
    """
    try:
        response = await pool.session().request(method, url, headers=headers, body=data)
    except http_client.ConnectError as exc:
        raise UpstreamError(
            "The upstream provider could not be reached.",
            retryable=True,
            unreachable=True,
            timeout=isinstance(exc, TimeoutError),
        ) from exc
    except http_client.ReadTimeout as exc:
        raise UpstreamError("The upstream provider did not answer in time.", retryable=True, timeout=True) from exc
    except http_client.HttpClientError as exc:
        raise UpstreamError("The upstream provider closed the connection.", retryable=True) from exc
    except ValueError as exc:  # a URL or header that cannot be sent (CR/LF, not latin-1): configuration
        raise UpstreamError("The request could not be sent to the upstream provider.") from exc
    if response.status >= 400:
        await _raise_for_status(response)
    return UpstreamResponse(
        status=response.status,
        content_type=response.header("Content-Type") or "application/octet-stream",
        headers=[(k, v) for k, v in response.headers if k.lower() not in _DROPPED_HEADERS],
        body=_iterate(response),
        close=_closer(response),
        length=response.content_length,
    )


async def _iterate(response: http_client.Response) -> AsyncIterator[bytes]:
    try:
        # Whatever has arrived is handed over, so SSE events are relayed without waiting for more.
        async for chunk in response.chunks():
            yield chunk
    except http_client.ReadTimeout as exc:
        raise UpstreamError("The upstream provider stopped sending the answer.", timeout=True) from exc
    except http_client.HttpClientError as exc:
        raise UpstreamError("The upstream provider broke off the answer.", retryable=False) from exc
    finally:
        response.release()


def _closer(response: http_client.Response) -> Callable[[], Awaitable[None]]:
    async def close() -> None:
        # An unfinished body must not be left on a pooled connection: close() closes it then.
        response.close()

    return close


async def _raise_for_status(response: http_client.Response) -> None:
    status = response.status
    try:
        body = await response.read(_MAX_ERROR_BODY)
    except http_client.HttpClientError:
        body = b""
    finally:
        response.close()
    if status in _RETRYABLE_STATUSES:
        wait = _retry_after(response.header("Retry-After"))
        if status == 429:
            message, client_status = "The upstream provider is rate limiting the gateway.", 429
        elif status == 503 and wait is not None:
            message, client_status = "The upstream provider is temporarily unavailable.", 503
        elif status == 504:
            message, client_status = "The upstream provider timed out.", 504
        else:
            message, client_status = "The upstream provider is overloaded or failing.", 502
        raise UpstreamError(
            message,
            status=status,
            retryable=True,
            retry_after=wait,
            client_status=client_status,
            timeout=status == 504,
        )
    if status in _CLIENT_ERROR_STATUSES:
        raise UpstreamError(_upstream_message(body, status), status=status, client_status=status)
    raise UpstreamError(f"The upstream provider refused the request (status {status}).", status=status)


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _upstream_message(body: bytes, status: int) -> str:
    """The upstream's own explanation of a client error, from any of Pollinations' error shapes."""
    message = ""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        error = parsed.get("error")
        if isinstance(error, dict):
            message = str(error.get("message") or "")
        elif isinstance(error, str):
            message = str(parsed.get("message") or error)
        else:
            message = str(parsed.get("message") or "")
    message = " ".join(message.split())[:_MAX_CLIENT_MESSAGE]
    return message or f"The upstream provider rejected the request (status {status})."
