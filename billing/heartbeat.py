"""Each process that holds reservations in Redis says it is alive, so the reconciler can tell a dead
process's holds from a slow request's.

A daemon thread refreshes ``mcp:bill:proc:<process id>`` every :data:`INTERVAL_SECONDS` with a
time to live of :data:`TTL_SECONDS`. Every hold records its process id; once the key has expired
the process is gone (killed, crashed, its pod deleted) and the reconciler settles its holds at its
next pass, instead of waiting ``BILLING_HOLD_STALE_SECONDS``. One thread per process, whatever
its event loops (the job worker runs each job on a loop of its own).
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterable

import redis
import structlog
from django.conf import settings

from core.redis_clients import sync_client

log = structlog.get_logger("mcp.billing")

__all__ = ["INTERVAL_SECONDS", "TTL_SECONDS", "alive", "ensure", "key_of", "process_id"]

PREFIX = "mcp:bill:proc:"
INTERVAL_SECONDS = 5.0
#: Three missed beats: a process paused for a garbage collection or a slow Redis is not declared dead.
TTL_SECONDS = 15

_lock = threading.Lock()
_pid = 0
_id = ""
_thread: threading.Thread | None = None


def process_id() -> str:
    """This process's id: host, pid and a random part (a pid is reused; a forked child gets its own)."""
    global _pid, _id, _thread
    if not _pid:
        with _lock:
            if not _pid:
                pid = os.getpid()
                _pid, _id, _thread = pid, f"{socket.gethostname()}-{pid}-{secrets.token_hex(4)}", None
    return _id


def _forked() -> None:
    # Called per admission: the pid is read once (a system call), and again only in a forked child.
    global _pid, _id, _thread
    _pid, _id, _thread = 0, "", None


os.register_at_fork(after_in_child=_forked)


def key_of(process: str) -> str:
    return PREFIX + process


def ensure() -> None:
    """Start this process's heartbeat thread if it is not running (cheap; called at each admission)."""
    global _thread
    ident = process_id()
    if _thread is not None and _thread.is_alive():
        return
    url = settings.CONFIG.redis_url
    if not url:
        return
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_beat, args=(url, ident), name="billing-heartbeat", daemon=True)
            _thread.start()


def _beat(url: str, ident: str) -> None:
    key = key_of(ident)
    while process_id() == ident:
        try:
            sync_client(url).set(key, "1", ex=TTL_SECONDS)
        except redis.RedisError as exc:
            log.warning("billing.heartbeat_failed", error_type=type(exc).__name__)
        time.sleep(INTERVAL_SECONDS)


def alive(client: redis.Redis, processes: Iterable[str]) -> set[str]:
    """Which of ``processes`` have beaten within :data:`TTL_SECONDS`."""
    processes = sorted(set(processes))
    if not processes:
        return set()
    found = client.mget([key_of(p) for p in processes])
    return {p for p, value in zip(processes, found, strict=True) if value is not None}
