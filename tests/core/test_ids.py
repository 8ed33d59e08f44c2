"""Fresh ids: unique within a process and across processes, shaped like ``uuid4().hex``, and no counter."""

from __future__ import annotations

import multiprocessing
import re
import time

from core.ids import fresh_id, ledger_id


def test_ids_are_32_hex_characters_and_never_repeat():
    ids = [fresh_id() for _ in range(10_000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)


def _child(queue) -> None:
    queue.put(fresh_id())


def test_a_forked_process_draws_a_prefix_of_its_own():
    mine = fresh_id()
    queue = multiprocessing.get_context("fork").Queue()
    child = multiprocessing.get_context("fork").Process(target=_child, args=(queue,))
    child.start()
    theirs = queue.get(timeout=10)
    child.join(10)
    assert theirs != mine and theirs[:8] != mine[:8]


def test_consecutive_ids_do_not_reveal_a_count():
    first, second = int(fresh_id(), 16), int(fresh_id(), 16)
    assert abs(second - first) > 2**64


def test_ledger_ids_grow_with_time_and_never_repeat():
    """They append to the ledger's unique index instead of landing anywhere in it."""
    before = f"{time.time_ns() // 1_000_000:012x}"
    ids = [ledger_id() for _ in range(10_000)]
    after = f"{time.time_ns() // 1_000_000:012x}"
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert all(before <= i[:12] <= after for i in ids)
    assert [i[:12] for i in ids] == sorted(i[:12] for i in ids)
