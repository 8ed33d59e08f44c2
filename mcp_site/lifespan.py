"""ASGI lifespan: freeze start-up objects out of the garbage collector; on stop, finish billing
settlements and close upstream connection pools."""

from __future__ import annotations

import gc


async def lifespan(scope, receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            # Everything imported at start-up (Django, the apps, the URL resolvers) lives as long as
            # the process: moved to the permanent generation, it no longer makes each full
            # collection walk hundreds of thousands of objects in the middle of a request.
            gc.collect()
            gc.freeze()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            from billing.hotpath import shutdown as close_billing
            from plugins.registry import close_registry

            await close_billing()
            await close_registry()
            await send({"type": "lifespan.shutdown.complete"})
            return
