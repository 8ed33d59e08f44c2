"""Legacy real-time feeds: replay the last events, then push new ones as SSE (API doc section 5)."""

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

REPLAY = 20  # ``past_results`` default
IDLE_TICK = 0.5  # seconds; an idle feed yields an empty chunk so disconnects are noticed


class Feed:
    """A broadcast of generation events with a short replay buffer."""

    def __init__(self, pretty: bool = False) -> None:
        self._recent: deque[bytes] = deque(maxlen=REPLAY)
        self._subscribers: set[asyncio.Queue[bytes]] = set()
        self._pretty = pretty

    def publish(self, event: dict[str, Any]) -> None:
        """Record an event and push it to every open feed."""
        if self._pretty:  # the text feed pretty-prints with non-ASCII escaped, as Ct's feed.js
            data = json.dumps(event, indent=2)
        else:
            data = json.dumps(event, separators=(",", ":"))
        frame = b"".join(b"data: " + line.encode() + b"\n" for line in data.split("\n")) + b"\n"
        self._recent.append(frame)
        for queue in self._subscribers:
            queue.put_nowait(frame)

    async def stream(self) -> AsyncIterator[bytes]:
        """Replay the buffer, then yield events live until the consumer stops."""
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._subscribers.add(queue)
        try:
            for frame in list(self._recent):
                yield frame
            while True:
                try:
                    yield await asyncio.wait_for(queue.get(), IDLE_TICK)
                except TimeoutError:
                    yield b""
        finally:
            self._subscribers.discard(queue)
