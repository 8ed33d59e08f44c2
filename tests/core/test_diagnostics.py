"""Garbage-collection pauses and event-loop stalls, timed (the hot path's phases: tests/gateway)."""

from __future__ import annotations

import asyncio
import gc
import time

from prometheus_client import REGISTRY

from core import diagnostics


def count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(f"{name}_count", labels) or 0.0


def test_every_garbage_collection_is_timed_by_generation():
    diagnostics.watch_gc()
    diagnostics.watch_gc()  # idempotent: one callback
    assert gc.callbacks.count(diagnostics._on_gc) == 1
    before = count("mcp_gc_pause_seconds", generation="2")
    gc.collect()
    assert count("mcp_gc_pause_seconds", generation="2") == before + 1


def lag_over(seconds: float) -> float:
    """How many probe wake-ups were later than ``seconds`` so far."""
    at_most = REGISTRY.get_sample_value("mcp_event_loop_lag_seconds_bucket", {"le": str(seconds)}) or 0.0
    return count("mcp_event_loop_lag_seconds") - at_most


async def test_a_callback_that_holds_the_loop_shows_up_as_lag():
    probe = asyncio.ensure_future(diagnostics.watch_event_loop(interval=0.01))
    try:
        await asyncio.sleep(0.03)
        before = lag_over(0.05)
        time.sleep(0.08)  # a blocking call on the loop
        await asyncio.sleep(0.03)
    finally:
        probe.cancel()
    assert lag_over(0.05) == before + 1
