"""A lean Redis connection for the hot path's scripts: one socket per event loop, every caller's
commands pipelined on it in order.

A request's admission (and the settlements riding with it) is one ``EVALSHA`` round trip. Through
redis-py's pipeline that round trip costs ~110–150 µs of CPU (a pooled connection taken and given
back, command objects, response callbacks); here it costs ~45 µs: the commands are encoded in
one join, written at once, and answered in order to a queue of futures by one hiredis reader.
Under load, concurrent requests share the socket, so one read often brings several answers.

It does only what the billing store needs: commands in, raw replies out, an error reply returned
in its command's place as a redis-py exception (``NoScriptError``, ``ResponseError``, …) so
callers treat both clients alike. Failures follow :mod:`core.redis_clients`' policy: a broken
connection or one past its timeout is closed (its later replies could no longer be matched to
their callers), every caller waiting on it gets ``ConnectionError``/``TimeoutError``, and the call
is tried again on a fresh connection with the same backoff, ``REDIS_RETRIES`` times.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Sequence
from typing import Any

import hiredis
from redis.backoff import ExponentialBackoff
from redis.connection import SSLConnection, parse_url
from redis.exceptions import (
    AuthenticationError,
    BusyLoadingError,
    NoScriptError,
    ReadOnlyError,
    RedisError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["Command", "Connection", "encode"]

#: One command: its name and arguments, as sent (``("EVALSHA", sha, 2, key1, key2, arg)``).
Command = Sequence[str | bytes | int | float]

#: Error replies redis-py raises as their own exception classes (by the reply's first word).
_ERRORS: dict[str, type[RedisError]] = {
    "NOSCRIPT": NoScriptError,
    "LOADING": BusyLoadingError,
    "READONLY": ReadOnlyError,
    "NOAUTH": AuthenticationError,
    "WRONGPASS": AuthenticationError,
}


def _error(message: str) -> RedisError:
    return _ERRORS.get(message.split(" ", 1)[0], ResponseError)(message)


def _argument(value: str | bytes | int | float) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bool):  # a bool is an int: refuse it rather than send "True"
        raise TypeError("Redis arguments are str, bytes, int or float, not bool")
    return str(value).encode() if isinstance(value, float) else b"%d" % value


def encode(commands: Sequence[Command]) -> bytes:
    """The RESP request of ``commands``, one after another (a pipeline)."""
    parts: list[bytes] = []
    for command in commands:
        parts.append(b"*%d\r\n" % len(command))
        for value in command:
            data = _argument(value)
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class _Waiter:
    """One call: how many replies it still expects, and the future its caller awaits."""

    __slots__ = ("future", "remaining", "replies")

    def __init__(self, future: asyncio.Future, count: int) -> None:
        self.future = future
        self.remaining = count
        self.replies: list[Any] = []


class _Protocol(asyncio.Protocol):
    """The socket's reading side: replies arrive in the order the calls were written."""

    def __init__(self) -> None:
        self.reader = hiredis.Reader(replyError=_error)
        self.waiters: deque[_Waiter] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        waiters = self.waiters
        while (reply := self.reader.gets()) is not False:
            if not waiters:  # a reply nobody asked for: the stream is out of step
                self.close(RedisConnectionError("Redis sent a reply no command asked for."))
                return
            waiter = waiters[0]
            waiter.replies.append(reply)
            waiter.remaining -= 1
            if waiter.remaining == 0:
                waiters.popleft()
                if not waiter.future.done():  # its caller may have given up (cancelled)
                    waiter.future.set_result(waiter.replies)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(
            RedisConnectionError("Connection to Redis lost." if exc is None else f"Connection to Redis lost: {exc}")
        )

    def close(self, error: BaseException) -> None:
        if self.transport is not None:
            self.transport.abort()
        self._fail(error)

    def _fail(self, error: BaseException) -> None:
        if self.lost is None:
            self.lost = error
        while self.waiters:
            future = self.waiters.popleft().future
            if not future.done():
                future.set_exception(error)

    def send(self, payload: bytes, count: int) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        if self.lost is not None:
            future.set_exception(self.lost)
            return future
        self.waiters.append(_Waiter(future, count))
        self.transport.write(payload)  # type: ignore[union-attr]
        return future


class Connection:
    """A connection to the Redis of ``url`` for one event loop, opened on first use and after a failure.

    :param timeout: seconds to connect, and for each call's replies.
    :param retries: further tries of a call that failed on a broken connection or timed out.
    """

    def __init__(self, url: str, *, timeout: float, retries: int, backoff: ExponentialBackoff) -> None:
        self.options = parse_url(url)
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None

    async def execute(self, commands: Sequence[Command]) -> list[Any]:
        """Send ``commands`` in one write; their replies in order, an error reply as an exception in its place."""
        payload = encode(commands)
        failures = 0
        while True:
            try:
                return await self._call(payload, len(commands))
            except (RedisConnectionError, RedisTimeoutError, OSError):
                failures += 1
                if failures > self.retries:
                    raise
                await asyncio.sleep(self.backoff.compute(failures))

    async def _call(self, payload: bytes, count: int) -> list[Any]:
        protocol = self._protocol
        if protocol is None or protocol.lost is not None:
            protocol = await self._connected()
        future = protocol.send(payload, count)
        try:
            async with asyncio.timeout(self.timeout):
                return await future
        except TimeoutError:
            # Its replies may still come; the next caller's would then be read as this one's.
            error = RedisTimeoutError(f"Redis did not answer within {self.timeout:g} s.")
            protocol.close(error)
            raise error from None

    async def _connected(self) -> _Protocol:
        # Callers arriving while a connection is being opened wait for that one.
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
        connecting = self._connecting
        try:
            protocol = await asyncio.shield(connecting)
        finally:
            if connecting.done() and self._connecting is connecting:
                self._connecting = None
        self._protocol = protocol
        return protocol

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        options = self.options
        try:
            async with asyncio.timeout(self.timeout):
                if "path" in options:
                    _, protocol = await loop.create_unix_connection(_Protocol, options["path"])
                else:
                    _, protocol = await loop.create_connection(
                        _Protocol, options.get("host", "localhost"), options.get("port", 6379), ssl=self._tls()
                    )
                setup = self._setup_commands()
                if setup:
                    replies = await protocol.send(encode(setup), len(setup))
                    failed = next((reply for reply in replies if isinstance(reply, Exception)), None)
                    if failed is not None:
                        protocol.close(failed)
                        raise failed
        except TimeoutError:
            raise RedisTimeoutError(f"Redis did not accept a connection within {self.timeout:g} s.") from None
        except OSError as exc:
            raise RedisConnectionError(f"Cannot connect to Redis: {exc}") from None
        return protocol

    def _setup_commands(self) -> list[Command]:
        options = self.options
        commands: list[Command] = []
        if options.get("password"):
            username = options.get("username")
            commands.append(("AUTH", username, options["password"]) if username else ("AUTH", options["password"]))
        if options.get("db"):
            commands.append(("SELECT", options["db"]))
        return commands

    def _tls(self) -> ssl.SSLContext | None:
        options = self.options
        if options.get("connection_class") is not SSLConnection:  # rediss:// only
            return None
        context = ssl.create_default_context(cafile=options.get("ssl_ca_certs"))
        if options.get("ssl_cert_reqs") in ("none", ssl.CERT_NONE):
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def close(self) -> None:
        """Close the socket; callers waiting on it get ``ConnectionError``, the next call reconnects."""
        if self._protocol is not None:
            self._protocol.close(RedisConnectionError("Connection to Redis closed."))
            self._protocol = None
