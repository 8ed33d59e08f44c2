"""Where a request's time goes: the hot path's phases, garbage-collection pauses and event-loop stalls.

Three histograms, cheap enough to stay on in production (a phase costs one clock read and one
observation, about a microsecond; the other two cost nothing per request):

* ``mcp_hot_path_phase_seconds{phase}`` — key resolution, admission, upstream (connect to a
  checked answer), relay (first to last byte), settlement, and the access log with its metrics;
* ``mcp_gc_pause_seconds{generation}`` — every collection of the cyclic garbage collector;
* ``mcp_event_loop_lag_seconds`` — how late a timer fires: a callback that held the loop (a slow
  hook, a blocking call, a long collection) shows up here whatever it was.

``bench/gateway.py`` reads them from ``/metrics`` after its latency run and prints their p50 and
p99 beside the benchmark's own figures.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Literal

from prometheus_client import Histogram

Phase = Literal["key", "admission", "upstream", "relay", "settlement", "log"]
PHASES: tuple[Phase, ...] = ("key", "admission", "upstream", "relay", "settlement", "log")
_FINE_BUCKETS = (
    0.000025,
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.00075,
    0.001,
    0.0015,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    1.0,
    5.0,
)

PHASE_SECONDS = Histogram(
    "mcp_hot_path_phase_seconds",
    "Time spent in each phase of a proxied request (upstream: connect to a checked answer; relay: first to last byte).",
    ["phase"],
    buckets=_FINE_BUCKETS,
)
GC_PAUSE_SECONDS = Histogram(
    "mcp_gc_pause_seconds",
    "Pauses of the cyclic garbage collector, by generation.",
    ["generation"],
    buckets=_FINE_BUCKETS,
)
LOOP_LAG_SECONDS = Histogram(
    "mcp_event_loop_lag_seconds",
    "How late a periodic timer of the event loop fired: the longest a callback held the loop.",
    buckets=_FINE_BUCKETS,
)
#: Bound once: an observation then costs no label lookup.
_phase = {name: PHASE_SECONDS.labels(name) for name in PHASES}
_generation = {generation: GC_PAUSE_SECONDS.labels(str(generation)) for generation in (0, 1, 2)}
#: How often the event-loop probe wakes (seconds).
LAG_PROBE_SECONDS = 0.1


def milliseconds_since(started: float) -> float:
    """Milliseconds elapsed since ``started`` (a ``time.perf_counter()`` reading): an outcome's latency."""
    return (time.perf_counter() - started) * 1000


def observe_phase(phase: Phase, seconds: float) -> None:
    """Record that one request spent ``seconds`` in ``phase``."""
    _phase[phase].observe(seconds)


_gc_started = 0.0


def _on_gc(stage: str, info: dict) -> None:
    global _gc_started
    if stage == "start":
        _gc_started = time.perf_counter()
    elif _gc_started:
        _generation[info["generation"]].observe(time.perf_counter() - _gc_started)


def watch_gc() -> None:
    """Time every garbage collection of this process (idempotent)."""
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)


async def watch_event_loop(interval: float = LAG_PROBE_SECONDS) -> None:
    """Measure, forever, how late this loop runs a timer due every ``interval`` seconds."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + interval
        await asyncio.sleep(interval)
        LOOP_LAG_SECONDS.observe(max(0.0, loop.time() - due))
