"""Work started on the side of a request (a settlement retry, a cache write, a "last used" flush).

asyncio keeps only a weak reference to a task, so a task nobody holds can be collected half-way;
and a task that fails with nobody awaiting it fails silently. :func:`spawn` keeps each task until it
ends and logs a failure; :func:`drain` waits for the tasks of the running event loop, so a graceful
stop (the ASGI lifespan's shutdown, a worker's job loop) finishes what was started.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import structlog

log = structlog.get_logger("mcp.background")

_tasks: set[asyncio.Future[Any]] = set()


def spawn(work: Awaitable[Any]) -> asyncio.Future[Any]:
    """Run ``work`` (a coroutine, usually) on the running loop without waiting for it; :func:`drain` waits for it."""
    task = asyncio.ensure_future(work, loop=asyncio.get_running_loop())
    _tasks.add(task)
    task.add_done_callback(_ended)
    return task


def _ended(task: asyncio.Task[Any]) -> None:
    _tasks.discard(task)
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error(
            "background_task_failed",
            task=getattr(task.get_coro(), "__qualname__", "?"),
            error_type=type(error).__name__,
        )


def pending() -> int:
    """Tasks still running on the running loop."""
    loop = asyncio.get_running_loop()
    return sum(1 for task in _tasks if task.get_loop() is loop)


async def drain() -> None:
    """Wait until no task of this event loop is left, including tasks those tasks started.

    Tasks of another loop (one that has ended, in tests or a worker's per-job loop) are not ours to
    wait for.
    """
    loop = asyncio.get_running_loop()
    while mine := [task for task in _tasks if task.get_loop() is loop]:
        await asyncio.gather(*mine, return_exceptions=True)
