"""Result cache for deterministic requests.

A request is cacheable only when its output is fixed by its input: an explicit ``seed``, no
streaming, not marked ``private``. The key covers the organisation, the provider, the model and
every parameter that can change the output. Each organisation has its own entries: a hit (its
``X-Cache`` header, its speed) must not tell one tenant what another one asked. Only complete,
successful answers up to :data:`MAX_ENTRY_BYTES` are stored, for :data:`TTL_SECONDS`; errors never
are. An unreachable cache (Redis down) is a miss, and nothing is stored: the request is answered uncached.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from urllib.parse import parse_qsl

import redis
import structlog
from django.core.cache import cache

from plugins.types import ProviderCall

log = structlog.get_logger(__name__)

TTL_SECONDS = 3600
MAX_ENTRY_BYTES = 4 * 1024 * 1024
#: Parameters that do not change the output and must not split the cache.
_IGNORED_PARAMS = frozenset({"stream", "user", "key", "token", "referrer", "referer", "sim_fault"})
_TRUE = {"true", "1"}


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    status: int
    content_type: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


def cache_key(call: ProviderCall, provider_name: str, *, private_header: bool = False) -> str | None:
    """The cache key of a deterministic request, or ``None`` when it must not be cached."""
    if call.stream or private_header:
        return None
    if call.payload is not None:
        params = {k: v for k, v in call.payload.items() if k not in _IGNORED_PARAMS}
    elif call.operation == "native" and call.method == "GET":
        params = {k: v for k, v in parse_qsl(call.raw_query) if k not in _IGNORED_PARAMS}
        params["__path"] = call.raw_path
    else:
        return None
    seed = params.get("seed")
    if seed in (None, "", -1, "-1") or str(params.get("private", "")).lower() in _TRUE or params.get("stream") in _TRUE:
        return None
    canonical = json.dumps(
        [call.organization_id, provider_name, call.operation, call.model, params], sort_keys=True, default=str
    )
    return "result:" + hashlib.sha256(canonical.encode()).hexdigest()


async def lookup(key: str) -> CachedAnswer | None:
    """The stored answer, or ``None``: also while the cache (Redis) is unreachable, which only costs the saving."""
    try:
        return await cache.aget(key)
    except redis.RedisError as exc:
        log.warning("result_cache.unavailable", error_type=type(exc).__name__)
        return None


async def store(key: str, answer: CachedAnswer) -> None:
    if 200 <= answer.status < 300 and len(answer.body) <= MAX_ENTRY_BYTES:
        try:
            await cache.aset(key, answer, timeout=TTL_SECONDS)
        except redis.RedisError as exc:
            log.warning("result_cache.unavailable", error_type=type(exc).__name__)
