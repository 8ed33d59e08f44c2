"""The ``circuit_breakers`` readiness check: the state of each provider's circuit, as detail only.

An open circuit never makes the instance unready: the upstream is down for every replica alike,
and the gateway still answers (another provider, or a 503 with ``Retry-After``).
"""

from __future__ import annotations

from gateway.dispatch import breaker_states
from plugins.registry import get_registry


async def check_circuit_breakers() -> dict:
    """Each provider called so far → ``closed``, ``opened`` or ``half-opened``, and the open ones."""
    states = breaker_states()
    return {"circuits": states, "open": sorted(name for name, state in states.items() if state == "opened")}


async def provider_health() -> list[dict[str, str]]:
    """Each enabled provider with its circuit state in this process (``closed`` until it is called)."""
    registry = await get_registry()
    states = breaker_states()
    return [
        {"name": provider.name, "kind": provider.settings.kind, "state": states.get(provider.name, "closed")}
        for provider in registry.providers
    ]
