"""Unique ids for requests and ledger events, without a system call each.

``uuid.uuid4()`` reads the kernel's random source on every call (a system call; on some virtual
machines a costly one), twice per proxied request. An id here is 128 bits from a generator of this
module's own, seeded from the kernel's source once per process (and again in a forked child, which
would otherwise repeat its parent's ids): as unique as ``uuid4()``, shaped like ``uuid4().hex``,
revealing nothing about how many came before (ids are sent to clients), and not secret (neither
are UUIDs: nothing may rely on an id being unguessable).
"""

from __future__ import annotations

import os
import random
import time

_source = random.Random()  # noqa: S311 - uniqueness, not secrecy (module docstring)


def _reseed() -> None:
    _source.seed(os.urandom(32))


_reseed()
os.register_at_fork(after_in_child=_reseed)


def fresh_id() -> str:
    """A new id: 32 lower-case hex characters, unique across processes."""
    return f"{_source.getrandbits(128):032x}"


def ledger_id() -> str:
    """A new ledger event's id: 32 hex characters like :func:`fresh_id`, led by the time in milliseconds.

    The ledger's unique index on this id takes every event the writer inserts. With random ids each
    insert lands on a leaf page of its own, anywhere in an index larger than memory; ids that grow
    with time append to the index's right edge (the insert cost a fifth less at 600,000 events).
    80 random bits follow, so ids stay unique across processes within a millisecond.
    """
    return f"{time.time_ns() // 1_000_000:012x}{_source.getrandbits(80):020x}"
