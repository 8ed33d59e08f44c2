"""ASGI lifespan: freeze start-up objects out of the garbage collector, start timing its pauses and
the event loop's stalls, and warn about a Redis that keeps no append-only file; on stop, finish
billing settlements and close upstream connection pools."""

from __future__ import annotations

import asyncio
import gc

import structlog
from django.conf import settings

from core import diagnostics
from core.asgi_types import Receive, Scope, Send
from core.redis_clients import persistence_warning

log = structlog.get_logger("mcp.redis")


async def _warn_without_persistence() -> None:
    if settings.CONFIG.redis_url and (warning := await asyncio.to_thread(persistence_warning)):
        log.warning("redis.no_persistence", detail=warning)


async def lifespan(scope: Scope, receive: Receive, send: Send) -> None:
    lag_probe: asyncio.Task | None = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            # Everything imported at start-up (Django, the apps, the URL resolvers) lives as long as
            # the process: moved to the permanent generation, it no longer makes each full
            # collection walk hundreds of thousands of objects in the middle of a request.
            gc.collect()
            gc.freeze()
            diagnostics.watch_gc()
            lag_probe = asyncio.ensure_future(diagnostics.watch_event_loop())
            await _warn_without_persistence()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            from billing.hotpath import shutdown as close_billing
            from plugins.registry import close_registry

            if lag_probe is not None:
                lag_probe.cancel()
            await close_billing()
            await close_registry()
            await send({"type": "lifespan.shutdown.complete"})
            return
