"""Fresh ids: unique within a process and across processes, shaped like ``uuid4().hex``, and no counter."""

from __future__ import annotations

import multiprocessing
import re

from core.ids import fresh_id


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
