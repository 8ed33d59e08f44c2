"""Fixtures for the gateway: a real simulator as the upstream, an organisation and API keys.

Requests go through the project's real ASGI application (``mcp_site.asgi``), hot-path handler
included, over httpx's ASGI transport; tests that need a real socket (streaming timing, client
disconnects) use :func:`tests.gateway.server.run_gateway` instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.core.cache import cache

from accounts.services import api_key_create, organization_create
from billing.hotpath import drain as settlements_drain
from billing.hotpath import reset as billing_reset
from gateway.dispatch import reset_breakers
from mcp_site.config import SIMULATOR_API_KEY
from plugins.registry import reset_registry

ALL_SCOPES = ("text", "image", "audio")


@pytest.fixture
def upstream(upstream_url: str) -> Iterator[httpx.Client]:
    """A client for the simulator's own endpoints (request log), with the log cleared first."""
    with httpx.Client(base_url=upstream_url, timeout=10) as client:
        client.delete("/_sim/requests")
        yield client


@pytest.fixture
def gateway_settings(default_upstream):
    settings = default_upstream
    settings.POLLINATIONS_API_KEY = SIMULATOR_API_KEY
    settings.MCP_FORWARD_HEADERS = ["x-sim-fault"]
    reset_registry()
    reset_breakers()
    billing_reset()
    cache.clear()
    yield settings
    reset_registry()


@pytest.fixture
def organization(transactional_db):
    return organization_create(name="Acme", slug="acme")


@pytest.fixture
def make_key(organization):
    """Create an API key in the test organisation: ``make_key(scopes=("text",))`` → raw secret."""

    def make(*, scopes=ALL_SCOPES, name: str | None = None, **kwargs) -> str:
        make.count += 1
        _, raw = api_key_create(organization=organization, name=name or f"key-{make.count}", scopes=scopes, **kwargs)
        return raw

    make.count = 0
    return make


@pytest.fixture
def api_key(make_key) -> str:
    return make_key()


@contextlib.asynccontextmanager
async def asgi_client(**options) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the real ASGI application (``options`` for ``httpx.AsyncClient``).

    On leaving, the settlements its requests left queued are sent, while the test's event loop still
    runs: otherwise the timer that sends them fires as the loop closes, and the flush it schedules
    never runs (a "never awaited" warning).
    """
    from mcp_site.asgi import application

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), **options) as http:
        yield http
    await settlements_drain()


@pytest.fixture
async def client(gateway_settings, api_key) -> AsyncIterator[httpx.AsyncClient]:
    """An authenticated client of the real ASGI application."""
    headers = {"Authorization": f"Bearer {api_key}"}
    async with asgi_client(base_url="http://testserver", headers=headers, timeout=30) as http:
        yield http


@pytest.fixture
async def anonymous(gateway_settings) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(base_url="http://testserver") as http:
        yield http


def upstream_requests(upstream: httpx.Client, path_prefix: str = "") -> list[dict]:
    """What the simulator received, oldest first, optionally only under a path prefix."""
    return [r for r in upstream.get("/_sim/requests").json()["requests"] if r["path"].startswith(path_prefix)]


@pytest.fixture
def amake_key(make_key):
    """``make_key`` for async tests (the ORM is sync)."""
    return sync_to_async(make_key)
