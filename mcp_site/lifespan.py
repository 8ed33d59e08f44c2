"""ASGI lifespan: close upstream connection pools cleanly when the server stops."""

from __future__ import annotations


async def lifespan(scope, receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            from plugins.registry import close_registry

            await close_registry()
            await send({"type": "lifespan.shutdown.complete"})
            return
