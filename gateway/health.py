"""The ``circuit_breakers`` readiness check: the state of each provider's circuit, as detail only.

An open circuit never makes the instance unready: the upstream is down for every replica alike,
and the gateway still answers (another provider, or a 503 with ``Retry-After``).
"""

from __future__ import annotations

from gateway.dispatch import breaker_states


async def check_circuit_breakers() -> dict:
    """Each provider called so far → ``closed``, ``opened`` or ``half-opened``, and the open ones."""
    states = breaker_states()
    return {"circuits": states, "open": sorted(name for name, state in states.items() if state == "opened")}
