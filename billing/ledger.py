"""The usage ledger's write path: an outbox the hot path appends to, and a flusher that empties it.

With Redis, the outbox is a stream (``mcp:bill:ledger``) appended by the settlement script in the
same atomic step that releases the request's reservation. A flusher — a background task in every
gateway process, and the ``billing_flush_ledger`` command for a worker — reads it through a
consumer group, inserts the batch with ``ON CONFLICT (request_id) DO NOTHING`` and only then
acknowledges it. A flusher that dies after the insert and before the acknowledgement leaves the
entries pending; another flusher claims them after :data:`CLAIM_IDLE_MS` and inserts them again,
which the unique ``request_id`` turns into a no-op. Nothing is lost, nothing is counted twice.

Without Redis (embedded, or while Redis is down) events wait in a process-local buffer that the
same task flushes every ``BILLING_LEDGER_FLUSH_SECONDS``.

A writer never stops on an outage of Redis or PostgreSQL: :func:`run_writer` retries with
exponential backoff, and :func:`health` (metrics, ``/readyz``) says when it last succeeded and
how many events wait.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis
import redis.asyncio
import structlog
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError, connection

from billing._stores import LEDGER_STREAM, redis_store
from billing.metrics import LEDGER_BUFFERED, LEDGER_FLUSH_ERRORS, LEDGER_LAST_FLUSH, LEDGER_OUTBOX, LEDGER_WRITTEN
from billing.services import usage_events_insert, usage_events_insert_encoded
from core.redis_clients import async_client, drop_pool

log = structlog.get_logger("mcp.billing")

GROUP = "ledger"
#: Events inserted into the database in one statement.
BATCH = 1000
#: Entries one Redis command reads, claims or acknowledges. Redis serves one command at a time:
#: reading 1,000 entries through a consumer group took it 0.7–1.4 ms (its slow log, in the benchmark),
#: and every request's admission and settlement waited behind it. A batch gathers slices of 100,
#: between which requests get through.
SLICE = 100
CLAIM_IDLE_MS = 30_000
CONSUMER = f"{socket.gethostname()}-{os.getpid()}"
#: Pauses of a writer after failed passes: doubling from the first to the last, then the last again.
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0

_buffer: list[dict] = []
_tasks: dict[asyncio.AbstractEventLoop, asyncio.Task] = {}


def _insert(insert: Callable[..., int], events: list) -> int:
    """``insert(events=events)`` in a database thread (``usage_events_insert`` or its encoded twin)."""
    try:
        return insert(events=events)
    finally:
        # Hand the connection back to the pool: this thread may not run again for a while.
        connection.close()


def reset() -> None:
    """Drop queued events and forget flusher tasks (tests)."""
    _buffer.clear()
    _tasks.clear()


def append_local(event: dict) -> None:
    """Queue an event in this process (no Redis); the flusher task writes it to the database."""
    _buffer.append(event)
    ensure_flusher()


def ensure_flusher() -> None:
    """Start this event loop's flusher task if it is not running."""
    loop = asyncio.get_running_loop()
    task = _tasks.get(loop)
    if task is None or task.done():
        _tasks[loop] = loop.create_task(_flush_forever())


def flusher_stop() -> None:
    """Stop this event loop's flusher task (a loop about to close; its events were flushed)."""
    task = _tasks.pop(asyncio.get_running_loop(), None)
    if task is not None:
        task.cancel()


_state = {"last_flush": 0.0, "outbox": 0, "failures": 0, "started": time.time()}


def _dependency(exc: BaseException) -> str:
    if isinstance(exc, redis.RedisError):
        return "redis"
    return "database" if isinstance(exc, DatabaseError) else "other"


async def run_writer(
    one_pass: Callable[[], Awaitable[int]],
    *,
    stop_after_one: bool = False,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> None:
    """Run ``one_pass`` every ``BILLING_LEDGER_FLUSH_SECONDS`` for ever, backing off after failures.

    An outage of Redis or PostgreSQL (or any other failure) never ends the loop: the pass is retried after
    :data:`BACKOFF_FIRST_SECONDS`, doubling up to :data:`BACKOFF_MAX_SECONDS`, and the outbox (or
    the process buffer) keeps the events meanwhile.

    :param stop_after_one: return after the first successful pass (``--once``).
    """
    while True:
        try:
            await one_pass()
        except Exception as exc:  # noqa: BLE001 - TRANSIENT above all, but nothing may end the writer.
            _state["failures"] += 1
            LEDGER_FLUSH_ERRORS.labels(_dependency(exc)).inc()
            delay = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** (_state["failures"] - 1))
            log.warning(
                "ledger.flush_failed",
                error_type=type(exc).__name__,
                error=str(exc)[:200],
                failures=_state["failures"],
                retry_in=delay,
            )
            if isinstance(exc, redis.RedisError):
                await drop_pool(async_client())
        else:
            _state["failures"] = 0
            if stop_after_one:
                return
            delay = settings.BILLING_LEDGER_FLUSH_SECONDS
        await sleep(delay)


async def _note_pass(client: redis.asyncio.Redis | None) -> None:
    """Record a completed pass: its time and the outbox's length (the lag)."""
    _state["last_flush"] = time.time()
    LEDGER_LAST_FLUSH.set(_state["last_flush"])
    LEDGER_BUFFERED.set(len(_buffer))
    if client is not None:
        _state["outbox"] = await client.xlen(LEDGER_STREAM)
        LEDGER_OUTBOX.set(_state["outbox"])


def health() -> dict:
    """The writer's state in this process: seconds since its last completed pass, events waiting, failures in a row."""
    last = _state["last_flush"]
    return {
        "last_flush_age_seconds": round(time.time() - (last or _state["started"]), 1),
        "outbox": _state["outbox"],
        "buffered": len(_buffer),
        "failures": _state["failures"],
    }


async def _flush_forever() -> None:
    await asyncio.sleep(settings.BILLING_LEDGER_FLUSH_SECONDS)
    await run_writer(flush_tick)


async def flush_tick() -> int:
    """One pass of a gateway process's flusher: its own queued events, and the Redis outbox unless a
    worker owns that (``BILLING_LEDGER_FLUSHER=worker``)."""
    count = await flush_buffer()
    store = redis_store() if settings.BILLING_LEDGER_FLUSHER == "web" else None
    client = store.client() if store is not None else None
    if client is not None:
        count += await flush_stream(client)
    await _note_pass(client)
    return count


async def flush_buffer() -> int:
    """Write the process-local events to the database; on failure they stay queued."""
    if not _buffer:
        return 0
    batch = _buffer[:BATCH]
    inserted = await sync_to_async(_insert)(usage_events_insert, batch)
    del _buffer[: len(batch)]
    return inserted


async def _ensure_group(client: redis.asyncio.Redis) -> None:
    try:
        await client.xgroup_create(LEDGER_STREAM, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def _autoclaim(
    client: redis.asyncio.Redis, consumer: str, claim_idle_ms: int, start: str, count: int
) -> tuple[str, list]:
    """Up to ``count`` entries pending for longer than ``claim_idle_ms`` (their flusher died), now ours,
    and where the next claim starts (``0-0``: none left); creates the group once."""
    try:
        reply = await client.xautoclaim(LEDGER_STREAM, GROUP, consumer, claim_idle_ms, start, count=count)
    except redis.ResponseError as exc:
        if "NOGROUP" not in str(exc):
            raise
        await _ensure_group(client)
        reply = await client.xautoclaim(LEDGER_STREAM, GROUP, consumer, claim_idle_ms, start, count=count)
    following = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
    return following, reply[1]


async def _claimed_batch(client: redis.asyncio.Redis, consumer: str, claim_idle_ms: int) -> list:
    """Up to :data:`BATCH` entries of flushers that died, claimed a slice at a time."""
    batch: list = []
    start = "0-0"
    while len(batch) < BATCH:
        start, entries = await _autoclaim(client, consumer, claim_idle_ms, start, min(SLICE, BATCH - len(batch)))
        batch += entries
        if start == "0-0":
            break
    return batch


async def _new_batch(client: redis.asyncio.Redis, consumer: str) -> list:
    """Up to :data:`BATCH` entries no flusher has read yet, read a slice at a time."""
    batch: list = []
    while len(batch) < BATCH:
        count = min(SLICE, BATCH - len(batch))
        # RESP2's [[stream, [(id, fields), …]]]; the stubs also allow RESP3's dict, which we never ask for.
        reply: Any = await client.xreadgroup(GROUP, consumer, {LEDGER_STREAM: ">"}, count=count)
        entries = reply[0][1] if reply else []
        batch += entries
        if len(entries) < count:
            break
    return batch


async def writer_pass(client: redis.asyncio.Redis) -> int:
    """One pass of the dedicated writer (``billing_flush_ledger``): the outbox, then this process's metrics."""
    count = await flush_stream(client)
    await _note_pass(client)
    return count


async def flush_stream(
    client: redis.asyncio.Redis, *, consumer: str = CONSUMER, claim_idle_ms: int = CLAIM_IDLE_MS
) -> int:
    """Move the stream's events into the database; returns how many were read (inserted or duplicate)."""
    total = 0
    # First the entries of flushers that died mid-batch, then new ones: two round trips when idle.
    claimed = await _claimed_batch(client, consumer, claim_idle_ms)
    if claimed:
        total += await _insert_and_ack(client, claimed)
    while True:
        batch = await _new_batch(client, consumer)
        if batch:
            total += await _insert_and_ack(client, batch)
        # Only a full batch means more is waiting. A short one means the pass has caught up with the
        # outbox; what arrived meanwhile waits for the next pass. Reading on would chase the requests
        # still coming in with a transaction each (a commit, a roll-up and a balance update for a
        # handful of events): under steady load that kept the writer and the database busy without
        # a pause, taking a third of a CPU from the gateway beside them.
        if len(batch) < BATCH:
            return total


async def read_pending_without_ack(client: redis.asyncio.Redis, *, consumer: str) -> list:
    """Read a batch as a flusher would, and do not acknowledge it (tests of a flusher dying)."""
    await _ensure_group(client)
    return await _new_batch(client, consumer)


async def insert_entries(entries: list) -> int:
    return await sync_to_async(_insert)(usage_events_insert_encoded, [fields[b"e"] for _, fields in entries if fields])


async def _insert_and_ack(client: redis.asyncio.Redis, entries: list) -> int:
    inserted = await insert_entries(entries)
    LEDGER_WRITTEN.labels("inserted").inc(inserted)
    LEDGER_WRITTEN.labels("duplicate").inc(len(entries) - inserted)
    ids = [entry_id for entry_id, _ in entries]
    for start in range(0, len(ids), SLICE):
        chunk = ids[start : start + SLICE]
        # Both or neither: an entry acknowledged but not deleted would stay in the stream for good.
        async with client.pipeline(transaction=True) as pipe:
            # Queued, not awaited: a pipeline's commands return the pipeline (the stubs say a result).
            pipe.xack(LEDGER_STREAM, GROUP, *chunk)
            pipe.xdel(LEDGER_STREAM, *chunk)
            await pipe.execute()
    return len(ids)
