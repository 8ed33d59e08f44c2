"""The ``circuit_breakers`` readiness check: each provider's circuit state, never a reason to be unready."""

from __future__ import annotations

import pytest

from gateway.dispatch import BREAKER_THRESHOLD, breakers, reset_breakers

pytestmark = pytest.mark.django_db(transaction=True)


async def _trip(name: str) -> None:
    breaker = await breakers.get_breaker(name)
    for _ in range(BREAKER_THRESHOLD):
        try:
            async with breaker:
                raise ConnectionError("upstream down")
        except ConnectionError:
            pass


async def test_readyz_shows_open_circuits_and_stays_ready(anonymous):
    reset_breakers()
    await _trip("pollinations-text")
    response = await anonymous.get("/readyz")
    assert response.status_code == 200, response.text
    check = response.json()["checks"]["circuit_breakers"]
    assert check == {"ok": True, "circuits": {"pollinations-text": "opened"}, "open": ["pollinations-text"]}
    reset_breakers()
    assert (await anonymous.get("/readyz")).json()["checks"]["circuit_breakers"]["circuits"] == {}
