"""ASGI lifespan: finish billing settlements and close upstream connection pools when the server stops."""

from __future__ import annotations


async def lifespan(scope, receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            from billing.hotpath import shutdown as close_billing
            from plugins.registry import close_registry

            await close_billing()
            await close_registry()
            await send({"type": "lifespan.shutdown.complete"})
            return
