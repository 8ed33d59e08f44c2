"""The one place the gateway's Redis clients are made, with timeouts, retries and health checks from settings.

A client retries a command that failed on a broken connection (``ConnectionError``,
``TimeoutError``) with exponential backoff, reconnecting in between: connections pooled before a
Redis restart heal on their first use instead of each failing once. A connection idle for longer
than ``REDIS_HEALTH_CHECK_SECONDS`` is pinged before it is used. A caller whose command still
fails (Redis really is down) calls :func:`drop_pool`, so that no connection to the dead server
stays pooled and the first call after recovery opens a fresh one.

Async clients are bound to an event loop (the job worker runs each job on a loop of its own), so
there is one per loop and URL; sync clients are one per URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from typing import Any

import redis
import redis.asyncio
from django.conf import settings
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from core.resp import Connection

__all__ = [
    "RETRY_ON",
    "async_client",
    "channel_layer_host",
    "connection_options",
    "drop_pool",
    "persistence_warning",
    "reset",
    "script_connection",
    "sync_client",
]

#: The errors of a broken connection or an unreachable server: worth a reconnect and another try.
RETRY_ON = (RedisConnectionError, RedisTimeoutError)
#: First pause between tries and the longest one (seconds): a restarted Redis is answering again
#: within one or two pauses, and a request never waits long on a dead one.
BACKOFF_BASE_SECONDS = 0.02
BACKOFF_CAP_SECONDS = 0.25

_async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, redis.asyncio.Redis]] = (
    weakref.WeakKeyDictionary()
)
_sync: dict[str, redis.Redis] = {}


def connection_options(*, timeout: float, health_check_interval: float, retries: int, sync: bool) -> dict[str, Any]:
    """Keyword arguments of a client or connection pool (also given to django-redis by the settings)."""
    retry_class = Retry if sync else AsyncRetry
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "health_check_interval": health_check_interval,
        "retry": retry_class(ExponentialBackoff(cap=BACKOFF_CAP_SECONDS, base=BACKOFF_BASE_SECONDS), retries),
        "retry_on_error": list(RETRY_ON),
    }


def channel_layer_host(
    url: str, *, timeout: float, health_check_interval: float, retries: int, blocking_seconds: float
) -> dict[str, Any]:
    """A channels-redis ``hosts`` entry whose pool gets this module's retries and health checks.

    The channel layer builds its own pools; giving them the same options keeps one policy for every
    Redis connection. Its receive blocks on the server for ``blocking_seconds``, so the read
    timeout is that much longer than other calls'.
    """
    options = connection_options(
        timeout=timeout, health_check_interval=health_check_interval, retries=retries, sync=False
    )
    return {"address": url, **options, "socket_timeout": blocking_seconds + timeout}


def _options(*, sync: bool) -> dict[str, Any]:
    return connection_options(
        timeout=settings.REDIS_TIMEOUT_SECONDS,
        health_check_interval=settings.REDIS_HEALTH_CHECK_SECONDS,
        retries=settings.REDIS_RETRIES,
        sync=sync,
    )


def _url(url: str | None) -> str:
    url = url or settings.CONFIG.redis_url
    if not url:
        raise RuntimeError("REDIS_URL is not set: there is no Redis to connect to.")
    return url


def async_client(url: str | None = None) -> redis.asyncio.Redis:
    """This event loop's client for ``url`` (default ``REDIS_URL``)."""
    url = _url(url)
    clients = _async.setdefault(asyncio.get_running_loop(), {})
    client = clients.get(url)
    if client is None:
        client = clients[url] = redis.asyncio.Redis.from_url(url, **_options(sync=False))
    return client


def script_connection(url: str | None = None) -> Connection:
    """A new lean, pipelined connection for the hot path's scripts (:mod:`core.resp`) to ``url``
    (default ``REDIS_URL``), with the same timeout, retries and backoff as every client here."""
    backoff = ExponentialBackoff(cap=BACKOFF_CAP_SECONDS, base=BACKOFF_BASE_SECONDS)
    return Connection(
        _url(url), timeout=settings.REDIS_TIMEOUT_SECONDS, retries=settings.REDIS_RETRIES, backoff=backoff
    )


def sync_client(url: str | None = None) -> redis.Redis:
    """This process's blocking client for ``url`` (default ``REDIS_URL``): management commands, admin, services."""
    url = _url(url)
    client = _sync.get(url)
    if client is None:
        client = _sync[url] = redis.Redis.from_url(url, **_options(sync=True))
    return client


async def drop_pool(client: redis.asyncio.Redis) -> None:
    """Close every pooled connection of ``client`` (after it failed despite its retries)."""
    # Closing sockets to a dead server may fail; they are gone either way.
    with contextlib.suppress(Exception):
        await client.connection_pool.disconnect()


def persistence_warning(url: str | None = None) -> str | None:
    """What is wrong with the server's durability, or ``None`` when it keeps an append-only file.

    Without one, a restart forgets the rate windows, the reservations and the usage events not yet
    written to the ledger. ``INFO persistence`` first; ``CONFIG GET appendonly`` where ``INFO``
    does not say. A managed server that refuses both, or a Redis that does not answer, gives no
    warning here (the gateway reports an unreachable Redis elsewhere).
    """
    client = sync_client(url)
    try:
        enabled = client.info("persistence").get("aof_enabled")
        if enabled is None:
            enabled = {"yes": 1, "no": 0}.get(client.config_get("appendonly").get("appendonly") or "")
    except redis.RedisError:
        return None
    if enabled is None or int(enabled) == 1:
        return None
    return (
        "Redis reports no append-only file (appendonly no): a restart forgets rate windows, reservations "
        "and usage events not yet in the ledger. Run it with appendonly yes and appendfsync everysec, or "
        "a managed equivalent (docs/deploy.md)."
    )


def reset() -> None:
    """Forget every client (tests that point ``REDIS_URL`` elsewhere)."""
    _async.clear()
    for client in _sync.values():
        client.close()
    _sync.clear()
