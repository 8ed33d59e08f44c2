"""Requests the cluster tests send, to a replica directly or through the load balancer."""

from __future__ import annotations

import httpx


def chat(url: str, key: str, *, headers: dict[str, str] | None = None, timeout: float = 10) -> httpx.Response:
    """One non-streaming chat completion against ``url`` (a replica or the load balancer)."""
    return httpx.post(
        f"{url}/v1/chat/completions",
        json={"model": "openai", "messages": [{"role": "user", "content": "hello"}]},
        headers={"Authorization": f"Bearer {key}", **(headers or {})},
        timeout=timeout,
    )


def image(url: str, key: str, *, seed: int) -> httpx.Response:
    """One seeded (so cacheable) image generation."""
    return httpx.post(
        f"{url}/v1/images/generations",
        json={"prompt": "a lighthouse at dusk", "size": "64x64", "seed": seed},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
