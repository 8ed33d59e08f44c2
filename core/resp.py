"""A lean Redis connection for the hot path's scripts: one socket per event loop, every caller's
commands pipelined on it in order.

A request's admission (and the settlements riding with it) is one ``EVALSHA`` round trip. Through
redis-py's pipeline that round trip costs ~110–150 µs of CPU (a pooled connection taken and given
back, command objects, response callbacks); here it costs ~45 µs: the commands are encoded in
one join, written at once, and answered in order to a queue of futures by one hiredis reader.
Under load, concurrent requests share the socket, so one read often brings several answers.

It does only what the billing store needs: commands in, raw replies out, an error reply returned
in its command's place as a redis-py exception (``NoScriptError``, ``ResponseError``, …) so
callers treat both clients alike. Failures follow :mod:`core.redis_clients`' policy: a call past
its timeout fails with ``TimeoutError`` (its reply, if it comes, is read and dropped, so the
replies behind it still reach their callers); a socket that broke, or stayed silent for a whole
timeout with calls waiting, is closed and everyone waiting on it gets ``ConnectionError``. A call
that failed either way is tried again on a fresh connection with the same backoff,
``REDIS_RETRIES`` times: a command it sends may then run twice, so what goes through here must be
safe to repeat (the billing scripts are, by the request's id).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import hiredis
from redis.asyncio.connection import SSLConnection, parse_url
from redis.backoff import ExponentialBackoff
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


def encode(commands: Sequence[Command]) -> bytes:
    """The RESP request of ``commands``, one after another (a pipeline).

    hiredis encodes each command in C, byte for byte what a loop over the arguments in Python wrote,
    at a third of its cost; like that loop it refuses a bool rather than send "True" (``TypeError``).
    """
    # (hiredis's stub types the tuple as one item long)
    return b"".join([hiredis.pack_command(tuple(command)) for command in commands])  # type: ignore[arg-type]


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
        #: When the socket last brought data (``time.monotonic()``): a slow call on a live socket is not a dead socket.
        self.last_read = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.last_read = time.monotonic()
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
        self.options: dict[str, Any] = dict(parse_url(url))
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None

    async def execute(self, commands: Sequence[Command]) -> list[Any]:
        """Send ``commands`` in one write; their replies in order, an error reply as an exception in its place."""
        if not commands:
            return []
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
            error = RedisTimeoutError(f"Redis did not answer within {self.timeout:g} s.")
            # This call's waiter stays queued (its future cancelled), so its late reply is dropped in
            # turn. A socket that brought nothing for the whole timeout is taken for dead.
            if time.monotonic() - protocol.last_read >= self.timeout:
                protocol.close(error)
            raise error from None

    async def _connected(self) -> _Protocol:
        # Callers arriving while a connection is being opened wait for that one.
        connecting = self._connecting
        if connecting is None:
            connecting = self._connecting = asyncio.ensure_future(self._connect())
            connecting.add_done_callback(self._connected_or_not)
        return await asyncio.shield(connecting)

    def _connected_or_not(self, connecting: asyncio.Future[_Protocol]) -> None:
        # Kept even when every caller gave up waiting for it: the next call uses it.
        if self._connecting is connecting:
            self._connecting = None
        if not connecting.cancelled() and connecting.exception() is None:
            self._protocol = connecting.result()

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        options = self.options
        protocol: _Protocol | None = None
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
                    if failed := next((reply for reply in replies if isinstance(reply, Exception)), None):
                        raise failed
            return protocol
        except BaseException as exc:
            if protocol is not None:  # opened, but not ready for use: never leave the socket behind
                protocol.close(RedisConnectionError("Connection to Redis abandoned while opening."))
            if isinstance(exc, TimeoutError):
                raise RedisTimeoutError(f"Redis did not accept a connection within {self.timeout:g} s.") from None
            if isinstance(exc, OSError):
                raise RedisConnectionError(f"Cannot connect to Redis: {exc}") from None
            raise

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
        """For ``rediss://``: the TLS context redis-py itself makes of the URL's ``ssl_*`` options."""
        options = self.options
        if options.get("connection_class") is not SSLConnection:
            return None
        tls_options = {name: value for name, value in options.items() if name.startswith("ssl_")}
        return SSLConnection(**tls_options).ssl_context.get()

    def close(self) -> None:
        """Close the socket; callers waiting on it get ``ConnectionError``, the next call reconnects."""
        if self._protocol is not None:
            self._protocol.close(RedisConnectionError("Connection to Redis closed."))
            self._protocol = None
