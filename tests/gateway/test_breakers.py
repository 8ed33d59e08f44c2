"""Circuit breakers: only the provider's own failures count, and one organisation alone cannot open them for others."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from accounts.services import api_key_create, organization_create
from core import breakers
from core.breakers import BREAKER_OPEN_SECONDS, BREAKER_THRESHOLD, Breaker
from tests.gateway.conftest import upstream_requests

BODY = {"model": "openai", "messages": [{"role": "user", "content": "hi"}]}


def _fail(breaker: Breaker, organization: int, times: int, *, now: float = 100.0, unreachable: bool = False) -> None:
    for _ in range(times):
        breaker.failure(organization, unreachable=unreachable, now=now)


def test_one_organisations_failures_open_the_circuit_for_that_organisation_only():
    breaker = Breaker("p")
    _fail(breaker, 1, BREAKER_THRESHOLD)
    assert breaker.open_for(1, 100.0) == BREAKER_OPEN_SECONDS
    assert breaker.open_for(2, 100.0) == 0
    assert breaker.state(100.0) == "closed"


def test_failures_from_two_organisations_open_the_shared_circuit():
    breaker = Breaker("p")
    _fail(breaker, 1, BREAKER_THRESHOLD - 1)
    _fail(breaker, 2, 1)
    assert breaker.state(100.0) == "opened"
    assert breaker.open_for(3, 100.0) == BREAKER_OPEN_SECONDS


def test_connection_failures_open_the_shared_circuit_whoever_sees_them():
    breaker = Breaker("p")
    _fail(breaker, 1, BREAKER_THRESHOLD, unreachable=True)
    assert breaker.state(100.0) == "opened"


def test_another_organisations_success_resets_the_shared_streak():
    breaker = Breaker("p")
    for _ in range(3 * BREAKER_THRESHOLD):
        breaker.failure(1, unreachable=False, now=100.0)
        breaker.success(2)
    assert breaker.state(100.0) == "closed"


def test_an_open_circuit_reads_closed_as_soon_as_its_time_is_over():
    breaker = Breaker("p")
    _fail(breaker, 1, BREAKER_THRESHOLD, unreachable=True)
    assert breaker.state(100.0 + BREAKER_OPEN_SECONDS - 0.1) == "opened"
    assert breaker.state(100.0 + BREAKER_OPEN_SECONDS) == "closed"
    assert breaker.open_for(1, 100.0 + BREAKER_OPEN_SECONDS) == 0


@pytest.mark.django_db(transaction=True)
async def test_one_organisations_upstream_500s_do_not_cut_another_organisation_off(client, upstream, gateway_settings):
    """Org A provokes upstream 500s (as a malformed field would) until its own circuit opens; org B is served."""
    other = await sync_to_async(organization_create)(name="Other", slug="other")
    _, other_key = await sync_to_async(api_key_create)(organization=other, name="b", scopes=("text",))
    for _ in range(BREAKER_THRESHOLD + 2):
        response = await client.post("/v1/chat/completions", json=BODY, headers={"X-Sim-Fault": "status=500"})
        assert response.status_code in (502, 503)
    assert response.status_code == 503, "org A's own circuit is open: it fails fast"
    assert response.json()["error"]["code"] == "no_provider_available"
    assert breakers.states()["pollinations-text"] == "closed"
    answered = await client.post("/v1/chat/completions", json=BODY, headers={"Authorization": f"Bearer {other_key}"})
    assert answered.status_code == 200
    assert upstream_requests(upstream, "/v1/chat/completions")[-1]["status"] == 200


@pytest.mark.django_db(transaction=True)
async def test_an_upstream_4xx_never_counts_toward_any_circuit(client):
    for _ in range(BREAKER_THRESHOLD * 2):
        response = await client.post("/v1/chat/completions", json=BODY, headers={"X-Sim-Fault": "status=422"})
        assert response.status_code == 422
    breaker = breakers.breaker("pollinations-text")
    assert breaker.failures == 0 and not any(count for count, _ in breaker.by_org.values())
