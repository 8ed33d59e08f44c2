"""Organisation A's worst inputs never change what organisation B gets.

Malformed bodies that used to reach the upstream (and count toward the provider's shared circuit
breaker) and floods of them are refused at the edge, so B's requests are answered as before.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from asgiref.sync import sync_to_async

from accounts.services import api_key_create, organization_create
from tests.billing.conftest import settle_and_flush
from tests.gateway.conftest import upstream_requests

pytestmark = pytest.mark.django_db(transaction=True)

MSG = [{"role": "user", "content": "hi"}]
LONE = b'{"messages": [{"role": "user", "content": "x\\ud800y"}]}'
WORST = [
    ("/v1/chat/completions", {"json": {"messages": MSG, "stream": True, "stream_options": [None]}}),
    ("/v1/chat/completions", {"content": LONE, "headers": {"content-type": "application/json"}}),
    ("/v1/chat/completions", {"json": {"messages": MSG, "temperature": "hot"}}),
    ("/v1/chat/completions", {"content": b"[" * 10_000 + b"]" * 10_000}),
    ("/v1/images/generations", {"json": {"prompt": "a cat", "size": "99999x1"}}),
    ("/v1/audio/speech", {"json": {"input": "hi", "response_format": ["mp3"]}}),
    ("/v1/audio/transcriptions", {"data": {"temperature": "hot"}, "files": {"file": ("a.wav", b"RIFF", "audio/wav")}}),
    ("/v1/jobs", {"json": {"kind": "text", "request": {"messages": MSG, "n": "many"}}}),
]


@pytest.fixture
async def other_org_client(gateway_settings):
    """A client for a second organisation, with its own key."""
    from mcp_site.asgi import application

    org = await sync_to_async(organization_create)(name="Beta", slug="beta")
    _, raw = await sync_to_async(api_key_create)(organization=org, name="beta", scopes=("text", "image", "audio"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {raw}"},
        timeout=30,
    ) as http:
        yield http


async def _b_answers(http: httpx.AsyncClient) -> list[tuple[int, str]]:
    chat = await http.post("/v1/chat/completions", json={"messages": MSG, "seed": 1, "private": True})
    image = await http.post("/v1/images/generations", json={"prompt": "a cat", "size": "256x256", "private": True})
    speech = await http.post("/v1/audio/speech", json={"input": "hello"})
    return [(r.status_code, r.headers.get("content-type", "").split(";")[0]) for r in (chat, image, speech)]


async def test_a_flood_of_malformed_requests_from_one_organisation_changes_nothing_for_another(
    client, other_org_client, upstream
):
    before = await _b_answers(other_org_client)
    assert [status for status, _ in before] == [200, 200, 200]
    upstream.delete("/_sim/requests")
    for _ in range(3):
        answers = await asyncio.gather(*(client.post(path, **kwargs) for path, kwargs in WORST))
        assert {response.status_code for response in answers} == {400}
    assert upstream_requests(upstream) == [], "none of A's malformed requests reached the upstream"
    assert await _b_answers(other_org_client) == before
    await settle_and_flush()


async def test_one_organisations_rate_limit_is_its_own(amake_key, other_org_client, gateway_settings):
    from mcp_site.asgi import application

    limited = await amake_key(limits={"requests_per_minute": 2})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {limited}"},
        timeout=30,
    ) as a:
        statuses = [(await a.post("/v1/chat/completions", json={"messages": MSG})).status_code for _ in range(5)]
    assert statuses.count(429) >= 3
    assert [status for status, _ in await _b_answers(other_org_client)] == [200, 200, 200]
    await settle_and_flush()
