"""Hot-path API key authentication for the gateway: raw key → :class:`KeyIdentity`, or :class:`InvalidApiKey`.

Pure async and cache-first. The cost of a call, in order:

1. shape and checksum (:mod:`accounts.keyformat`) — pure Python; a malformed key stops here;
2. SHA-256 of the key, then a process-local TTL cache (:data:`LOCAL_TTL_SECONDS`) — no I/O,
   no thread, no ORM: this is the common case (see ``bench/auth.py``);
3. on a local miss, the shared cache (Redis when ``REDIS_URL`` is set; :mod:`accounts._keycache`),
   one round trip; entries live :data:`SHARED_TTL_SECONDS` (unknown keys :data:`NEGATIVE_TTL_SECONDS`);
4. on a shared miss, the database (async ORM), and the answer is added to the shared cache.

Revoking, rotating or changing a key (the services) overwrites its shared entry after commit, so
every replica refuses a revoked key within :data:`LOCAL_TTL_SECONDS` (< 5 s). Expiry is checked on
every call against the cached ``expires_at``, so a cached key never outlives its expiry.

``last_used_at`` is not written per request: each process notes the time in memory and writes
the batch to the database at most once per :data:`LAST_USED_FLUSH_SECONDS` (one bulk write in a
background task, never on a request's path). A process killed between flushes loses at most
that much "last used" precision, nothing else.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping

from asgiref.sync import sync_to_async

from accounts._keycache import (
    NEGATIVE,
    NEGATIVE_TTL_SECONDS,
    SHARED_TTL_SECONDS,
    decode_entry,
    encode_entry,
    local_entries,
    shared_key_cache,
)
from accounts.exceptions import InvalidApiKey
from accounts.keyformat import key_hash, key_is_well_formed
from accounts.models import ApiKey
from accounts.roles import MODALITIES
from accounts.services import api_key_last_used_record
from accounts.types import KeyIdentity
from core import background, tracing
from core.authorization import bearer_token

__all__ = [
    "LOCAL_TTL_SECONDS",
    "MODALITIES",
    "InvalidApiKey",
    "KeyIdentity",
    "extract_api_key",
    "flush_last_used",
    "resolve_api_key",
]

LOCAL_TTL_SECONDS = 2.0
LAST_USED_FLUSH_SECONDS = 60.0
_LOCAL_MAX_ENTRIES = 10_000
_local = local_entries()


# key id → wall-clock time of the last use not yet written to the database
_last_used: dict[int, float] = {}
_next_flush = time.monotonic() + LAST_USED_FLUSH_SECONDS


def extract_api_key(headers: Mapping[str, str], query_key: str | None) -> str | None:
    """The raw key from ``Authorization: Bearer``, then ``X-API-Key``, then ``?key=``.

    :param headers: request headers with lower-cased names.
    :param query_key: the ``key`` query parameter; less safe, since URLs end up in logs and
        browser history, and accepted only for Pollinations-style GET URLs.
    """
    token = bearer_token(headers.get("authorization"))
    if token is not None:
        return token or None
    return headers.get("x-api-key") or query_key or None


async def resolve_api_key(raw: str | None) -> KeyIdentity:
    """The identity behind ``raw``.

    :raises InvalidApiKey: for a missing, malformed, unknown, revoked or expired key, or a key of an
        inactive organisation — always with the same message.
    """
    if not raw or not raw.isascii():
        raise InvalidApiKey()
    digest = key_hash(raw)
    now = time.monotonic()
    entry = _local.get(digest)
    if entry is None or entry[0] <= now:
        # Checked here, before the key is looked up: a digest found above is of a key that passed.
        if not key_is_well_formed(raw):
            raise InvalidApiKey()
        stored_hash, identity = await _lookup(digest)
        if len(_local) >= _LOCAL_MAX_ENTRIES:
            _local.clear()
        entry = _local[digest] = (now + LOCAL_TTL_SECONDS, stored_hash, identity)
    _, stored_hash, identity = entry
    if identity is None or not hmac.compare_digest(stored_hash, digest):
        raise InvalidApiKey()
    wall = time.time()
    if identity.expires_at is not None and identity.expires_at <= wall:
        raise InvalidApiKey()
    _last_used[identity.key_id] = wall
    if now >= _next_flush:
        _schedule_flush()
    return identity


async def _lookup(digest: str) -> tuple[str, KeyIdentity | None]:
    # Traced here, past the process's own cache: a key found there costs microseconds, and a span
    # for it would cost more than the lookup.
    with tracing.span("mcp.key.resolve") as span:
        cache = shared_key_cache()
        cached = await cache.aget(digest)
        source = "shared_cache"
        if cached is None:
            api_key = await ApiKey.objects.select_related("organization").filter(key_hash=digest).afirst()
            cached = encode_entry(api_key)
            await cache.aadd(digest, cached, SHARED_TTL_SECONDS if cached != NEGATIVE else NEGATIVE_TTL_SECONDS)
            source = "database"
        stored_hash, identity = decode_entry(digest, cached)
        if span is not None:
            span.set_attributes({"mcp.key.source": source, "mcp.key.found": identity is not None})
        return stored_hash, identity


def _schedule_flush() -> None:
    global _next_flush
    _next_flush = time.monotonic() + LAST_USED_FLUSH_SECONDS
    background.spawn(flush_last_used())


async def flush_last_used() -> int:
    """Write the pending "last used" times to the database in one batch; returns how many keys."""
    if not _last_used:
        return 0
    batch = dict(_last_used)
    _last_used.clear()
    return await sync_to_async(api_key_last_used_record)(used=batch)
