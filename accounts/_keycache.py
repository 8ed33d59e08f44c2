"""The shared cache behind :mod:`accounts.keyauth`: Redis when ``REDIS_URL`` is set, else Django's cache.

Django's cache API is synchronous for django-redis (its ``aget`` is ``sync_to_async`` — a thread hop
per call), so on the hot path Redis is read with ``redis.asyncio`` directly, through the event
loop's client from :mod:`core.redis_clients`. Entries are small JSON documents under
``mcp:keyauth:<sha256>``. In embedded mode the local-memory Django cache is in-process, so calling
it from async code does no I/O.

Readers fill a missing entry with *add* (set-if-absent); writers (revoke, rotate, change) *set* the
fresh value after their transaction commits. So a reader that loaded the old row just before a
revocation can never overwrite the revocation's entry with stale data.
"""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

import redis
import structlog
from django.conf import settings
from django.core.cache import caches

from accounts.roles import MODALITIES
from accounts.types import KeyIdentity
from core.redis_clients import async_client, sync_client

if TYPE_CHECKING:
    from accounts.models import ApiKey

log = structlog.get_logger(__name__)

_NAMESPACE = "mcp:keyauth:"
SHARED_TTL_SECONDS = 60
NEGATIVE_TTL_SECONDS = 10
NEGATIVE = b"-"

# digest → (deadline on the monotonic clock, stored hash, identity or None for "refused")
_local: dict[str, tuple[float, str, KeyIdentity | None]] = {}


class SharedKeyCache(Protocol):
    async def aget(self, digest: str) -> bytes | None: ...
    async def aadd(self, digest: str, value: bytes, ttl: int) -> None: ...
    def set(self, digest: str, value: bytes, ttl: int) -> None: ...


class RedisKeyCache:
    def __init__(self, url: str) -> None:
        self._url = url

    async def aget(self, digest: str) -> bytes | None:
        try:
            value = await async_client(self._url).get(_NAMESPACE + digest)
            return value if isinstance(value, bytes) else None  # the clients never decode responses
        except redis.RedisError as exc:
            # Fail towards the database (the source of truth), never towards "valid".
            log.warning("keyauth.shared_cache_unavailable", error=str(exc))
            return None

    async def aadd(self, digest: str, value: bytes, ttl: int) -> None:
        try:
            await async_client(self._url).set(_NAMESPACE + digest, value, ex=ttl, nx=True)
        except redis.RedisError as exc:
            log.warning("keyauth.shared_cache_unavailable", error=str(exc))

    def set(self, digest: str, value: bytes, ttl: int) -> None:
        try:
            sync_client(self._url).set(_NAMESPACE + digest, value, ex=ttl)
        except redis.RedisError as exc:
            # The database already says "revoked"; other replicas see it when their entry expires.
            log.error("keyauth.shared_cache_write_failed", error=str(exc))


class DjangoKeyCache:
    """Django's default cache; used in embedded mode, where it is local memory (no I/O)."""

    async def aget(self, digest: str) -> bytes | None:
        return caches["default"].get(_NAMESPACE + digest)

    async def aadd(self, digest: str, value: bytes, ttl: int) -> None:
        caches["default"].add(_NAMESPACE + digest, value, ttl)

    def set(self, digest: str, value: bytes, ttl: int) -> None:
        caches["default"].set(_NAMESPACE + digest, value, ttl)


_backend: SharedKeyCache | None = None


def shared_key_cache() -> SharedKeyCache:
    global _backend
    if _backend is None:
        url = settings.CONFIG.redis_url
        _backend = RedisKeyCache(url) if url else DjangoKeyCache()
    return _backend


def encode_entry(api_key: ApiKey | None) -> bytes:
    """The shared-cache document for a key row (``None``, revoked or inactive organisation: refused)."""
    if api_key is None or api_key.revoked_at is not None or not api_key.organization.is_active:
        return NEGATIVE
    return json.dumps(
        {
            "h": api_key.key_hash,
            "id": api_key.pk,
            "p": api_key.prefix,
            "o": api_key.organization_id,
            "s": api_key.organization.slug,
            "u": api_key.created_by_id,
            "sc": sorted(api_key.scopes),
            "m": sorted(api_key.allowed_models),
            "l": api_key.limits,
            "e": api_key.expires_at.timestamp() if api_key.expires_at else None,
        },
        separators=(",", ":"),
    ).encode()


def decode_entry(digest: str, value: bytes) -> tuple[str, KeyIdentity | None]:
    if value == NEGATIVE:
        return digest, None
    data = json.loads(value)
    identity = KeyIdentity(
        key_id=data["id"],
        key_prefix=data["p"],
        organization_id=data["o"],
        organization_slug=data["s"],
        user_id=data["u"],
        scopes=frozenset(data["sc"]) & frozenset(MODALITIES),
        allowed_models=frozenset(data["m"]),
        limits=MappingProxyType({str(k): int(v) for k, v in data["l"].items()}),
        expires_at=data["e"],
    )
    return data["h"], identity


def publish_key_state(api_key: ApiKey) -> None:
    """Overwrite the shared entry with the key's current row; called by services after commit."""
    value = encode_entry(api_key)
    shared_key_cache().set(api_key.key_hash, value, SHARED_TTL_SECONDS)
    _local.pop(api_key.key_hash, None)


def forget_local_cache() -> None:
    """Drop this process's cached identities (tests, and after bulk changes)."""
    _local.clear()


def local_entries() -> dict[str, tuple[float, str, KeyIdentity | None]]:
    """The process-local tier, owned here so that writers can drop entries (read by keyauth)."""
    return _local
