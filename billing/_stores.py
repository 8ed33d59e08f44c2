"""Where limits, slots and reservations live: Redis (shared by replicas) or this process (embedded/degraded).

Both stores answer the same two questions with the same semantics: :meth:`admit` checks every
rule and the credit reservation and takes all of them or none; :meth:`settle` releases what the
request held, adds what it consumed, and appends its ledger event.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import redis.asyncio
from django.conf import settings
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from billing import _scripts
from billing.types import Admission, Rule
from core import json_codec, resp
from core.redis_clients import async_client, drop_pool, script_connection, sync_client

HOLDS_KEY = "mcp:bill:holds"
LEDGER_STREAM = "mcp:bill:ledger"


def credit_key(organization_id: int) -> str:
    return f"mcp:bill:credit:org:{organization_id}"


@dataclass(slots=True)
class AdmitResult:
    ok: bool
    #: on refusal: ``rate``, ``conc``, ``quota``, ``credit`` or ``init`` (balance not loaded yet)
    kind: str = ""
    #: on refusal: index of the refusing rule among the rules of its kind
    index: int = 0
    retry_after_ms: int = 0
    #: on success, per rule of each kind in order: rate (remaining, reset_ms); conc and quota: remaining
    rate: list[tuple[int, int]] = field(default_factory=list)
    conc: list[int] = field(default_factory=list)
    quota: list[int] = field(default_factory=list)
    #: on success: credits left after this request's reservation; -1 when credits are not enforced
    credits: int = 0


def split_rules(rules: tuple[Rule, ...]) -> tuple[list[Rule], list[Rule], list[Rule]]:
    return (
        [r for r in rules if r.kind == "rate"],
        [r for r in rules if r.kind == "conc"],
        [r for r in rules if r.kind == "quota"],
    )


def hold_record(admission: Admission) -> str:
    """What the reconciler needs to settle a request whose process died: who, how much, since when,
    which process held it (its heartbeat), and the ids its ledger row carries."""
    return json_codec.dumps(
        {
            "o": admission.organization_id,
            "e": admission.estimate,
            "c": int(admission.credit_enforced),
            "t": time.time(),
            "s": [r.key for r in admission.rules if r.kind == "conc"],
            "p": admission.process_id,
            "k": admission.key_id,
            "u": admission.user_id,
            "r": admission.client_request_id,
            "j": admission.charge_id,
            "v": admission.provider,
            "m": admission.model,
            "op": admission.operation,
            "md": admission.modality,
        }
    ).decode()


@dataclass(slots=True)
class Settlement:
    """A settlement waiting to be sent: what :meth:`RedisStore.settle` takes, kept for one batch."""

    admission: Admission
    units: list[int]
    cost: int
    event: str


#: A settlement waits at most this long for an admission to ride with (seconds), then goes alone.
SETTLE_RIDE_SECONDS = 0.005


#: What a Lua script takes as an argument.
ScriptArg = str | int | float
#: The scripts' SHA1 digests, by which ``EVALSHA`` names them.
ADMIT_SHA = hashlib.sha1(_scripts.ADMIT.encode(), usedforsecurity=False).hexdigest()
SETTLE_SHA = hashlib.sha1(_scripts.SETTLE.encode(), usedforsecurity=False).hexdigest()
#: A script call: the script's digest, its keys, its arguments.
_ScriptCall = tuple[str, list[str], list[ScriptArg]]


class RedisStore:
    """One Lua script per admission and per settlement, and one round trip per request.

    A settlement does not take a round trip of its own: :meth:`defer_settle` queues it, and it
    rides in the same pipeline as the next admission on this event loop, ahead of it (so a
    client's next request finds its previous slots released); with no admission within
    :data:`SETTLE_RIDE_SECONDS`, the waiting settlements go together in one pipeline.

    The scripts go over this loop's lean connection (:mod:`core.resp`), every request's on the
    same socket; everything else (loading a balance, tests looking in) uses the redis-py client.
    """

    name = "redis"

    def __init__(self, url: str) -> None:
        self.url = url
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.Redis] = (
            weakref.WeakKeyDictionary()
        )
        self._connections: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, resp.Connection] = (
            weakref.WeakKeyDictionary()
        )
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue] = weakref.WeakKeyDictionary()

    def client(self) -> redis.asyncio.Redis:
        """This event loop's redis-py client (a client is bound to the loop it was made on)."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = async_client(self.url)
        return client

    def _connection(self) -> resp.Connection:
        loop = asyncio.get_running_loop()
        connection = self._connections.get(loop)
        if connection is None:
            connection = self._connections[loop] = script_connection(self.url)
        return connection

    def release_loop(self) -> None:
        """Close this event loop's script connection, for a loop about to end (a job's): its socket
        would otherwise keep the loop, and itself, alive."""
        connection = self._connections.pop(asyncio.get_running_loop(), None)
        if connection is not None:
            connection.close()

    async def drop(self) -> None:
        """Close this loop's connections: Redis failed despite the retries."""
        self.release_loop()
        await drop_pool(self.client())

    async def admit(self, admission: Admission) -> AdmitResult:
        keys, args = _admit_command(admission)
        riders = self._queue().take()
        if not riders:
            [reply] = await self._pipelined([(ADMIT_SHA, keys, args)])
        else:
            # Shielded: a client leaving mid-admission must not take the other requests' settlements with it.
            *_, reply = await asyncio.shield(self._send(riders, [(ADMIT_SHA, keys, args)]))
        if isinstance(reply, BaseException):
            raise reply
        return _admit_result(admission, reply)

    async def load_credits(self, organization_id: int, cap: int) -> None:
        key = credit_key(organization_id)
        # HSETNX: a replica that loaded the balance first wins; nothing already spent is forgotten.
        async with self.client().pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, "cap", cap)
            pipe.hsetnx(key, "used", 0)
            pipe.hsetnx(key, "held", 0)
            await pipe.execute()

    async def settle(self, admission: Admission, units: list[int], cost: int, event: str) -> bool:
        """Settle now, in a round trip of its own (retries of a settlement that failed)."""
        keys, args = _settle_command(Settlement(admission, units, cost, event))
        [reply] = await self._pipelined([(SETTLE_SHA, keys, args)])
        if isinstance(reply, BaseException):
            raise reply
        return bool(reply)

    def defer_settle(self, settlement: Settlement, on_failure: Callable[[Settlement], None]) -> None:
        """Queue ``settlement`` to ride with the next admission; ``on_failure`` gets it back if it was not applied."""
        self._queue().put(settlement, on_failure)

    async def drain(self) -> None:
        """Send this loop's queued settlements and wait for those already on their way."""
        queue = self._queue()
        while queue.items or queue.flushing:
            await _quietly(self.flush())
            await asyncio.gather(*list(queue.flushing), return_exceptions=True)

    async def flush(self) -> None:
        """Send this loop's queued settlements now, together."""
        riders = self._queue().take()
        if riders:
            await asyncio.shield(self._send(riders, []))

    def _send(self, riders: list[Settlement], after: list[_ScriptCall]) -> asyncio.Future:
        """Send ``riders``' settlements, then the ``after`` calls, in one pipeline; each rider that was
        not applied goes back to its ``on_failure``, whatever becomes of whoever awaits the answer."""
        queue = self._queue()
        calls = [*((SETTLE_SHA, *_settle_command(r)) for r in riders), *after]
        future = asyncio.ensure_future(self._pipelined(calls))
        future.add_done_callback(functools.partial(queue.outcome, riders))
        # Tracked until done, so draining the loop waits for it even if its admission was abandoned.
        queue.flushing.add(future)
        future.add_done_callback(queue.flushing.discard)
        return future

    def _queue(self) -> _Queue:
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Queue(self)
        return queue

    async def _pipelined(self, calls: list[_ScriptCall], *, reloaded: bool = False) -> list:
        """Run scripts in one round trip; a reply is the script's answer or the error it raised.

        A server that lost its scripts (restarted) gets them loaded, once, and only the calls that
        did not run are sent again: a settlement is applied once.
        """
        connection = self._connection()
        replies = await connection.execute([("EVALSHA", sha, len(keys), *keys, *args) for sha, keys, args in calls])
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, redis.exceptions.NoScriptError)]
        if missing and not reloaded:
            loaded = await connection.execute([("SCRIPT", "LOAD", _scripts.ADMIT), ("SCRIPT", "LOAD", _scripts.SETTLE)])
            if failed := next((reply for reply in loaded if isinstance(reply, BaseException)), None):
                raise failed
            again = await self._pipelined([calls[i] for i in missing], reloaded=True)
            for i, reply in zip(missing, again, strict=True):
                replies[i] = reply
        return replies


class _Queue:
    """One event loop's settlements waiting for a ride, and the timer that sends them alone."""

    __slots__ = ("callbacks", "flushing", "items", "store", "timer")

    def __init__(self, store: RedisStore) -> None:
        self.store = store
        self.items: list[Settlement] = []
        self.callbacks: dict[int, Callable[[Settlement], None]] = {}
        self.timer: asyncio.TimerHandle | None = None
        self.flushing: set[asyncio.Task] = set()

    def put(self, settlement: Settlement, on_failure: Callable[[Settlement], None]) -> None:
        self.items.append(settlement)
        self.callbacks[id(settlement)] = on_failure
        if self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(SETTLE_RIDE_SECONDS, self._alone)

    def _alone(self) -> None:
        self.timer = None
        if self.items:
            task = asyncio.ensure_future(_quietly(self.store.flush()))
            self.flushing.add(task)
            task.add_done_callback(self.flushing.discard)

    def take(self) -> list[Settlement]:
        items, self.items = self.items, []
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        return items

    def outcome(self, riders: list[Settlement], sent: asyncio.Future) -> None:
        failed = sent.cancelled() or sent.exception() is not None
        for rider, reply in zip(riders, [None] * len(riders) if failed else sent.result(), strict=False):
            callback = self.callbacks.pop(id(rider))
            if failed or isinstance(reply, BaseException):
                callback(rider)


async def _quietly(flush: Awaitable[object]) -> None:
    # Failures were handed back to each settlement's on_failure; nothing is left to report here.
    with contextlib.suppress(Exception):
        await flush


def _admit_command(admission: Admission) -> tuple[list[str], list[ScriptArg]]:
    rate, conc, quota = split_rules(admission.rules)
    now = time.time()
    keys = [r.key for r in (*rate, *conc, *quota)] + [credit_key(admission.organization_id), HOLDS_KEY]
    args: list[ScriptArg] = [admission.ledger_id, len(rate), len(conc), len(quota)]
    for r in (*rate, *conc):
        args += [r.limit, r.window * 1000]
    for r in quota:
        args += [r.limit, max(1, int((r.reset_at - now) * 1000))]
    args += [int(admission.credit_enforced), admission.estimate, hold_record(admission)]
    return keys, args


def _admit_result(admission: Admission, reply: list) -> AdmitResult:
    if int(reply[0]) == 0:
        kind = reply[1].decode() if isinstance(reply[1], bytes) else str(reply[1])
        return AdmitResult(False, kind, int(reply[2]) - 1, int(reply[3]))
    rate, conc, _ = split_rules(admission.rules)
    values = [int(v) for v in reply[1:]]
    result = AdmitResult(True)
    result.rate = [(values[2 * i], values[2 * i + 1]) for i in range(len(rate))]
    offset = 2 * len(rate)
    result.conc = values[offset : offset + len(conc)]
    result.quota = values[offset + len(conc) : -1]
    result.credits = values[-1]
    return result


def _settle_command(settlement: Settlement) -> tuple[list[str], list[ScriptArg]]:
    admission = settlement.admission
    _, conc, quota = split_rules(admission.rules)
    now = time.time()
    keys = [r.key for r in (*conc, *quota)] + [credit_key(admission.organization_id), HOLDS_KEY, LEDGER_STREAM]
    args: list[ScriptArg] = [admission.ledger_id, len(conc), len(quota)]
    for rule, used in zip(quota, settlement.units, strict=True):
        args += [used, max(1, int((rule.reset_at - now) * 1000))]
    args += [int(admission.credit_enforced), admission.estimate, settlement.cost, settlement.event]
    return keys, args


class LocalStore:
    """The same semantics in this process: the embedded setup, and the fallback while Redis is down.

    Rate limits use the ``limits`` library's moving window on its memory storage. Every method runs
    without awaiting in the middle, so on one event loop a check-then-take is atomic.
    """

    name = "local"

    def __init__(self) -> None:
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.slots: dict[str, dict[str, float]] = {}
        self.counters: dict[str, tuple[float, int]] = {}
        self.credits: dict[int, list[int]] = {}
        self.holds: dict[str, str] = {}

    @staticmethod
    def _item(rule: Rule) -> RateLimitItemPerSecond:
        return RateLimitItemPerSecond(rule.limit, rule.window)

    async def admit(self, admission: Admission) -> AdmitResult:
        rate, conc, quota = split_rules(admission.rules)
        now = time.time()
        for i, rule in enumerate(rate):
            if not self.limiter.test(self._item(rule), rule.key):
                reset = self.limiter.get_window_stats(self._item(rule), rule.key).reset_time
                return AdmitResult(False, "rate", i, max(1, int((reset - now) * 1000)))
        for i, rule in enumerate(conc):
            held = {k: v for k, v in self.slots.get(rule.key, {}).items() if v > now}
            self.slots[rule.key] = held
            if len(held) >= rule.limit:
                return AdmitResult(False, "conc", i, 1000)
        for i, rule in enumerate(quota):
            if self._counter(rule.key, now) >= rule.limit:
                return AdmitResult(False, "quota", i, max(1, int((rule.reset_at - now) * 1000)))
        if admission.credit_enforced:
            account = self.credits.get(admission.organization_id)
            if account is None:
                return AdmitResult(False, "init")
            cap, used, held_credit = account
            if used + held_credit + admission.estimate > cap:
                return AdmitResult(False, "credit")
            account[2] += admission.estimate
        result = AdmitResult(True, credits=-1)
        if admission.credit_enforced:
            cap, used, held_credit = self.credits[admission.organization_id]
            result.credits = cap - used - held_credit
        for rule in rate:
            self.limiter.hit(self._item(rule), rule.key)
            stats = self.limiter.get_window_stats(self._item(rule), rule.key)
            result.rate.append((stats.remaining, max(0, int((stats.reset_time - now) * 1000))))
        for rule in conc:
            self.slots[rule.key][admission.ledger_id] = now + rule.window
            result.conc.append(rule.limit - len(self.slots[rule.key]))
        result.quota = [rule.limit - self._counter(rule.key, now) for rule in quota]
        self.holds[admission.ledger_id] = hold_record(admission)
        return result

    def count(self, admission: Admission) -> None:
        """Count a request the shared store admitted in this process's rate windows too.

        If Redis then goes down, this process's own windows already hold what it admitted, so
        together the replicas admit at most replicas × limit in a window, never more.
        """
        for rule in admission.rules:
            if rule.kind == "rate":
                self.limiter.hit(self._item(rule), rule.key)

    def _counter(self, key: str, now: float) -> int:
        expires, value = self.counters.get(key, (0.0, 0))
        return value if expires > now else 0

    async def load_credits(self, organization_id: int, cap: int) -> None:
        self.credits.setdefault(organization_id, [cap, 0, 0])

    async def settle(self, admission: Admission, units: list[int], cost: int, event: str) -> bool:
        _, conc, quota = split_rules(admission.rules)
        now = time.time()
        for rule in conc:
            self.slots.get(rule.key, {}).pop(admission.ledger_id, None)
        if self.holds.pop(admission.ledger_id, None) is None:
            return False
        for rule, used in zip(quota, units, strict=True):
            self.counters[rule.key] = (rule.reset_at, self._counter(rule.key, now) + used)
        account = self.credits.get(admission.organization_id)
        if admission.credit_enforced and account is not None:
            account[2] -= admission.estimate
            account[1] += cost
        return True


def shared_credits_adjust(organization_id: int, amount: int) -> None:
    """Move an organisation's spending cap in the hot-path store (after a grant or an overdraft change).

    A cap not loaded yet needs nothing: it is read from the database on first use.
    """
    url = settings.CONFIG.redis_url
    if not url:
        account = local_store().credits.get(organization_id)
        if account is not None:
            account[0] += amount
        return
    key = credit_key(organization_id)
    # HINCRBY only on an existing hash: creating a partial one would skip the load from the database.
    sync_client(url).eval(
        "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HINCRBY', KEYS[1], 'cap', ARGV[1]) end", 1, key, amount
    )


_local = LocalStore()
_redis: RedisStore | None = None


def local_store() -> LocalStore:
    """This process's store: the embedded setup's, and the fallback while Redis is down."""
    return _local


def redis_store() -> RedisStore | None:
    """The shared store of ``REDIS_URL``, or ``None`` in the embedded setup."""
    global _redis
    url = settings.CONFIG.redis_url
    if not url:
        return None
    if _redis is None or _redis.url != url:
        _redis = RedisStore(url)
    return _redis


def current_redis_store() -> RedisStore | None:
    """The shared store if one was made in this process (nothing is connected to find out)."""
    return _redis


def reset_stores() -> None:
    """Forget both stores (tests)."""
    global _local, _redis
    _local, _redis = LocalStore(), None
