"""Circuit breakers per provider that one organisation's traffic alone cannot open for the others.

A failure is evidence against a provider only when the request did not cause it: upstream 4xx
answers, client disconnects and refused requests never count. Among the failures that do count
(timeouts, transport faults, 5xx, malformed answers), only a *connection* failure — the upstream
could not be reached at all — is independent of what was sent; a 5xx or a malformed answer may
have been provoked by the request itself. So:

* ``BREAKER_THRESHOLD`` consecutive failures from **one** organisation open the circuit for that
  organisation only (its own requests fail fast; nobody else notices);
* the shared circuit opens when the consecutive failures reach the threshold and come from at
  least ``BREAKER_MIN_ORGANIZATIONS`` organisations, or include a connection failure;
* any success closes the shared count, and the succeeding organisation's own count.

State is computed from the clock when read, so an expired circuit reads ``closed`` at once
(there is no stale ``opened`` until the next request).
"""

from __future__ import annotations

import time

import structlog
from prometheus_client import Gauge

log = structlog.get_logger("mcp.gateway")

#: Consecutive failures that open a circuit, and how long it stays open.
BREAKER_THRESHOLD = 5
BREAKER_OPEN_SECONDS = 30.0
#: Organisations whose failures it takes to open the shared circuit (connection failures excepted).
BREAKER_MIN_ORGANIZATIONS = 2
#: Organisations with a failure streak tracked per provider; beyond it the oldest streak is forgotten.
MAX_TRACKED_ORGANIZATIONS = 10_000

CIRCUIT_OPEN = Gauge("mcp_provider_circuit_open", "1 while a provider's circuit breaker is open.", ["provider"])

CLOSED, OPENED = "closed", "opened"


class Breaker:
    """One provider's circuit: a shared streak and a streak per organisation."""

    __slots__ = ("by_org", "failures", "name", "open_until", "organizations", "unreachable")

    def __init__(self, name: str) -> None:
        self.name = name
        self.failures = 0
        self.organizations: set[int | None] = set()
        self.unreachable = False
        self.open_until = 0.0
        #: organisation → (consecutive failures, open until)
        self.by_org: dict[int | None, tuple[int, float]] = {}

    def open_for(self, organization: int | None, now: float) -> float:
        """Seconds until the circuit lets ``organization``'s call through; 0 when it may go now."""
        wait = self.open_until - now
        own = self.by_org.get(organization)
        if own is not None:
            wait = max(wait, own[1] - now)
        return max(0.0, wait)

    def state(self, now: float) -> str:
        return OPENED if self.open_until > now else CLOSED

    def success(self, organization: int | None) -> None:
        if self.failures or self.open_until:
            self.failures, self.unreachable, self.open_until = 0, False, 0.0
            self.organizations.clear()
            CIRCUIT_OPEN.labels(self.name).set(0)
        if self.by_org:
            self.by_org.pop(organization, None)

    def failure(self, organization: int | None, *, unreachable: bool, now: float) -> None:
        count, until = self.by_org.pop(organization, (0, 0.0))
        count += 1
        if count >= BREAKER_THRESHOLD:
            until, count = now + BREAKER_OPEN_SECONDS, 0
            log.warning(
                "circuit_breaker_state",
                provider=self.name,
                state=OPENED,
                scope="organization",
                organization_id=organization,
            )
        self.by_org[organization] = (count, until)
        if len(self.by_org) > MAX_TRACKED_ORGANIZATIONS:
            del self.by_org[next(iter(self.by_org))]
        self.failures += 1
        self.organizations.add(organization)
        self.unreachable = self.unreachable or unreachable
        if self.failures >= BREAKER_THRESHOLD and (
            self.unreachable or len(self.organizations) >= BREAKER_MIN_ORGANIZATIONS
        ):
            self.open_until = now + BREAKER_OPEN_SECONDS
            self.failures, self.unreachable = 0, False
            self.organizations.clear()
            CIRCUIT_OPEN.labels(self.name).set(1)
            log.warning("circuit_breaker_state", provider=self.name, state=OPENED, scope="shared")


_breakers: dict[str, Breaker] = {}


def breaker(name: str) -> Breaker:
    found = _breakers.get(name)
    if found is None:
        found = _breakers[name] = Breaker(name)
    return found


def states() -> dict[str, str]:
    """Shared circuit state (``closed`` or ``opened``), as of now, of every provider called so far."""
    now = time.monotonic()
    states = {}
    for name, item in _breakers.items():
        states[name] = item.state(now)
        if states[name] == CLOSED and item.open_until:
            CIRCUIT_OPEN.labels(name).set(0)  # expired since the last call: the gauge catches up here
    return states


def reset() -> None:
    """Close every circuit (tests; and an operator's "reset" action in the admin)."""
    for name in _breakers:
        CIRCUIT_OPEN.labels(name).set(0)
    _breakers.clear()


__all__ = ["BREAKER_THRESHOLD", "Breaker", "breaker", "reset", "states"]
