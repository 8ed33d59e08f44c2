"""Unique ids for requests and ledger events, without a system call each.

``uuid.uuid4()`` reads the kernel's random source on every call (a system call; on some virtual
machines a costly one), twice per proxied request. An id here is a random prefix drawn once per
process (80 bits, drawn again in a forked child) and a counter: as unique as a UUID across
processes and restarts, 32 hex characters like ``uuid4().hex``, and unguessable where it matters
no more than a UUID is (ids are not secrets).
"""

from __future__ import annotations

import itertools
import os
import secrets

_prefix = ""
_counter = itertools.count()


def _draw() -> None:
    global _prefix, _counter
    _prefix, _counter = secrets.token_hex(10), itertools.count()


_draw()
os.register_at_fork(after_in_child=_draw)


def fresh_id() -> str:
    """A new id: 32 lower-case hex characters, unique across processes."""
    return f"{_prefix}{next(_counter):012x}"
