"""The ``circuit_breakers`` readiness check: each provider's circuit state, never a reason to be unready."""

from __future__ import annotations

import pytest

from gateway.dispatch import reset_breakers
from tests.fixtures.breakers import trip_breaker

pytestmark = pytest.mark.django_db(transaction=True)


async def test_readyz_shows_open_circuits_and_stays_ready(anonymous):
    reset_breakers()
    await trip_breaker("pollinations-text")
    response = await anonymous.get("/readyz")
    assert response.status_code == 200, response.text
    check = response.json()["checks"]["circuit_breakers"]
    assert check == {"ok": True, "circuits": {"pollinations-text": "opened"}, "open": ["pollinations-text"]}
    reset_breakers()
    assert (await anonymous.get("/readyz")).json()["checks"]["circuit_breakers"]["circuits"] == {}
