"""Traffic for the chaos scenarios: bursts of concurrent requests, each with its own client request id."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

import httpx

CHAT = {"model": "openai", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 20}


@dataclass
class Tally:
    """What the clients saw: request ids by status, and transport failures."""

    by_status: dict[int, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add(self, status: int, request_id: str) -> None:
        self.by_status.setdefault(status, []).append(request_id)

    def count(self, status: int) -> int:
        return len(self.by_status.get(status, []))

    def figures(self) -> str:
        parts = [f"{status}×{len(ids)}" for status, ids in sorted(self.by_status.items())]
        if self.errors:
            parts.append(f"transport errors×{len(self.errors)}")
        return " ".join(parts) or "nothing"


def request_id() -> str:
    return f"chaos-{uuid.uuid4().hex}"


async def burst(
    url: str,
    key: str,
    count: int,
    *,
    body: dict | None = None,
    path: str = "/v1/chat/completions",
    headers: dict | None = None,
) -> Tally:
    """``count`` requests at once; every answer is read to its end."""
    tally = Tally()
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:

        async def one() -> None:
            rid = request_id()
            sent = {"Authorization": f"Bearer {key}", "X-Request-ID": rid, **(headers or {})}
            try:
                answer = await http.post(path, json=body or CHAT, headers=sent)
                tally.add(answer.status_code, rid)
            except httpx.HTTPError as exc:
                tally.errors.append(f"{rid}: {type(exc).__name__}")

        await asyncio.gather(*(one() for _ in range(count)))
    return tally
