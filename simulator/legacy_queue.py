"""The legacy per-IP queue: a concurrency cap per tier, a bounded wait list, a slot interval."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from simulator.errors import SimError

TIER_CAPS = {"anonymous": 1, "seed": 3, "flower": 6, "nectar": 20}
QUEUE_FACTOR = 5  # the wait list holds cap x 5 requests; one more is refused with 429


@dataclass
class _IpQueue:
    cap: int
    slots: asyncio.Semaphore
    size: int = 0


class IpQueues:
    """Per (host, IP) queues; a slot is held ``interval`` seconds after its request finishes."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._queues: dict[tuple[str, str, str], _IpQueue] = {}

    @asynccontextmanager
    async def slot(self, profile: str, ip: str, tier: str) -> AsyncIterator[None]:
        """Wait for a slot for ``ip``; a 429 in the legacy shape when the queue is full."""
        cap = TIER_CAPS[tier]
        queue = self._queues.get((profile, ip, tier))
        if queue is None:
            queue = self._queues[(profile, ip, tier)] = _IpQueue(cap, asyncio.Semaphore(cap))
        if queue.size >= cap * QUEUE_FACTOR:
            info = {
                "ip": ip,
                "currentSize": queue.size,
                "pending": queue.size,
                "total": queue.size,
                "maxAllowed": cap * QUEUE_FACTOR,
                "tier": tier,
            }
            raise SimError(
                429,
                f"Queue full for IP: {ip} (max: {cap * QUEUE_FACTOR}). "
                "Get unlimited access at https://enter.pollinations.ai",
                details={"queueInfo": info},
            )
        queue.size += 1
        try:
            await queue.slots.acquire()
        except asyncio.CancelledError:  # the client left while waiting in line
            queue.size -= 1
            raise
        try:
            yield
        finally:
            # The slot stays taken for the interval, like p-queue's per-IP interval.
            asyncio.get_running_loop().call_later(self.interval, self._release, queue)

    @staticmethod
    def _release(queue: _IpQueue) -> None:
        """Free a slot once its interval has passed."""
        queue.size -= 1
        queue.slots.release()
