"""The gateway's readiness checks: circuit states (detail only) and the embedded upstream's reachability.

An open circuit never makes the instance unready: the upstream is down for every replica alike,
and taking pods out of the load balancer would turn a provider outage into a gateway outage. When
every provider serving a modality has its circuit open, the check reports that modality under
``degraded`` and ``/readyz`` answers ``200`` with ``"status": "degraded"`` (alertable, also as
``mcp_modality_unavailable``) while the pod stays in rotation.

With ``MCP_UPSTREAM=simulator`` the simulator is part of the deployment, like the database: when
it cannot be reached every call fails, so the ``default_upstream`` check fails too — but only
after :data:`UPSTREAM_UNREADY_AFTER` probes in a row failed, so one lost connection does not take
the instance out of its load balancer. A live upstream is not probed: its outage is the same for
every replica and the circuit breakers already report it.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from django.conf import settings
from prometheus_client import Gauge

from gateway.dispatch import breaker_states
from plugins.registry import current_registry, get_registry
from plugins.types import MODALITIES

#: How long one TCP connection attempt to the default upstream may take.
UPSTREAM_CONNECT_TIMEOUT_SECONDS = 1.0
#: Consecutive failed probes after which the default upstream makes the instance unready.
UPSTREAM_UNREADY_AFTER = 3

_failures_in_a_row = 0

MODALITY_UNAVAILABLE = Gauge(
    "mcp_modality_unavailable", "1 while every provider serving a modality has its circuit open.", ["modality"]
)


async def check_circuit_breakers() -> dict:
    """Each provider called so far → ``closed`` or ``opened`` (as of now), the open ones, and the
    modalities no provider can serve."""
    states = breaker_states()
    opened = sorted(name for name, state in states.items() if state == "opened")
    detail: dict = {"circuits": states, "open": opened}
    registry = current_registry()
    if registry is None:
        return detail
    degraded = []
    for modality in MODALITIES:
        serving = [p.name for p in registry.providers if modality in p.modalities]
        unavailable = bool(serving) and all(states.get(name) == "opened" for name in serving)
        MODALITY_UNAVAILABLE.labels(modality).set(1 if unavailable else 0)
        if unavailable:
            degraded.append(modality)
    if degraded:
        detail["degraded"] = degraded
    return detail


async def provider_health() -> list[dict[str, str]]:
    """Each enabled provider with its circuit state in this process (``closed`` until it is called)."""
    registry = await get_registry()
    states = breaker_states()
    return [
        {"name": provider.name, "kind": provider.settings.kind, "state": states.get(provider.name, "closed")}
        for provider in registry.providers
    ]


async def _connects(url: str) -> bool:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(parts.hostname, port), timeout=UPSTREAM_CONNECT_TIMEOUT_SECONDS
        )
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


async def check_default_upstream() -> dict:
    """Whether the bundled simulator (``POLLINATIONS_GEN_URL``) accepts connections; never the URL itself."""
    global _failures_in_a_row
    if settings.MCP_UPSTREAM != "simulator":
        return {"mode": settings.MCP_UPSTREAM, "probed": False}
    reachable = await _connects(settings.POLLINATIONS_GEN_URL)
    _failures_in_a_row = 0 if reachable else _failures_in_a_row + 1
    detail = {"mode": "simulator", "reachable": reachable, "failures_in_a_row": _failures_in_a_row}
    if _failures_in_a_row >= UPSTREAM_UNREADY_AFTER:
        return {
            **detail,
            "ok": False,
            "error": "the simulator upstream refuses connections: is it running, on SIMULATOR_PORT?",
        }
    return detail
