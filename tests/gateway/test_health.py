"""The gateway's readiness checks: circuit states (never a reason to be unready) and the simulator upstream."""

from __future__ import annotations

import time

import pytest

from core import breakers
from gateway.dispatch import reset_breakers
from gateway.health import UPSTREAM_UNREADY_AFTER
from tests.fixtures.breakers import trip_breaker
from tests.fixtures.simulator_server import free_port

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


async def test_readyz_fails_after_several_probes_when_the_simulator_upstream_is_unreachable(anonymous, settings):
    assert (await anonymous.get("/readyz")).status_code == 200  # the simulator answers: no failure counted
    settings.POLLINATIONS_GEN_URL = f"http://127.0.0.1:{free_port()}"
    first = [await anonymous.get("/readyz") for _ in range(UPSTREAM_UNREADY_AFTER - 1)]
    assert [r.status_code for r in first] == [200] * (UPSTREAM_UNREADY_AFTER - 1)
    assert first[-1].json()["checks"]["default_upstream"]["reachable"] is False
    unready = await anonymous.get("/readyz")
    assert unready.status_code == 503
    assert unready.json()["failed"] == ["default_upstream"]
    assert "SIMULATOR_PORT" in unready.json()["checks"]["default_upstream"]["error"]
    assert "127.0.0.1" not in unready.text


async def test_readyz_recovers_on_the_first_probe_that_reaches_the_simulator(anonymous, settings, upstream_url):
    settings.POLLINATIONS_GEN_URL = f"http://127.0.0.1:{free_port()}"
    for _ in range(UPSTREAM_UNREADY_AFTER):
        await anonymous.get("/readyz")
    settings.POLLINATIONS_GEN_URL = upstream_url
    response = await anonymous.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["default_upstream"] == {
        "ok": True,
        "mode": "simulator",
        "reachable": True,
        "failures_in_a_row": 0,
    }


async def test_a_live_upstream_is_not_probed_by_readyz(anonymous, settings):
    settings.MCP_UPSTREAM = "live"
    settings.POLLINATIONS_GEN_URL = f"http://127.0.0.1:{free_port()}"
    for _ in range(UPSTREAM_UNREADY_AFTER + 1):
        response = await anonymous.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["default_upstream"] == {"ok": True, "mode": "live", "probed": False}


async def test_an_expired_circuit_reads_closed_at_once_without_waiting_for_a_request(anonymous, monkeypatch):
    reset_breakers()
    await trip_breaker("pollinations-text")
    real = time.monotonic
    monkeypatch.setattr(breakers.time, "monotonic", lambda: real() + breakers.BREAKER_OPEN_SECONDS + 1)
    check = (await anonymous.get("/readyz")).json()["checks"]["circuit_breakers"]
    assert check["circuits"] == {"pollinations-text": "closed"}
    assert check["open"] == []
    reset_breakers()


async def test_readiness_degrades_but_stays_200_when_no_provider_can_serve_a_modality(anonymous, gateway_settings):
    reset_breakers()
    await anonymous.get("/v1/models")  # loads the registry
    await trip_breaker("pollinations-image")
    response = await anonymous.get("/readyz")
    assert response.status_code == 200, "the pod stays in the load balancer"
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["circuit_breakers"]["degraded"] == ["image"]
    assert 'mcp_modality_unavailable{modality="image"} 1.0' in (await anonymous.get("/metrics")).text
    reset_breakers()
    assert (await anonymous.get("/readyz")).json()["status"] == "ok"
