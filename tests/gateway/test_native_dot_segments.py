"""Dot segments in Pollinations-native paths, sent by a client that does not normalise paths
(``curl --path-as-is``) to a real gateway process: refused with 400, and nothing reaches the
upstream with the gateway's key."""

from __future__ import annotations

import http.client
import json
import os
from urllib.parse import urlsplit

import pytest

from tests.fixtures.gateway_server import database_url_of_test_db, run_gateway
from tests.gateway.conftest import upstream_requests

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

#: Each would reach another upstream endpoint once an upstream (or a proxy in front of it) normalises it.
TRAVERSALS = [
    "/image/../_sim/requests",
    "/image/./../_sim/requests",
    "/image/%2e%2e/_sim/requests",
    "/image/%2E%2E/_sim/requests",
    "/image/%2E./_sim/requests",
    "/image/.%2e/_sim/requests",
    "/image/%252e%252e/_sim/requests",
    "/image/a%2F..%2F..%2F_sim%2Frequests",
    "/image/..%5c_sim/requests",
    "/image/..\\_sim/requests",
    "/image/..;x/_sim/requests",
    "/text/../_sim/requests",
    "/audio/../../_sim/requests",
    "/prompt/../_sim/requests",
    "/openai/../_sim/requests",
    "/image/.",
    "/text/x/..",
]


@pytest.fixture
def gateway_address(gateway_settings, upstream_url):
    env = {
        "DATABASE_URL": database_url_of_test_db(),
        "POLLINATIONS_GEN_URL": upstream_url,
        "POLLINATIONS_IMAGE_URL": f"{upstream_url}/legacy/image",
        "POLLINATIONS_TEXT_URL": f"{upstream_url}/legacy/text",
    }
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    with run_gateway(env) as url:
        parts = urlsplit(url)
        yield parts.hostname, parts.port


def get_as_is(address: tuple[str, int], path: str, api_key: str) -> tuple[int, bytes]:
    """GET ``path`` exactly as written (http.client sends the request target unchanged)."""
    connection = http.client.HTTPConnection(*address, timeout=30)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {api_key}"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_dot_segments_are_refused_and_never_reach_the_upstream(gateway_address, api_key, upstream):
    for path in TRAVERSALS:
        status, body = get_as_is(gateway_address, path, api_key)
        assert status == 400, (path, status, body[:200])
        error = json.loads(body)["error"]
        assert (error["code"], error["param"]) == ("invalid_path", "path"), path
    assert upstream_requests(upstream) == []


def test_dots_inside_a_prompt_are_forwarded_byte_for_byte(gateway_address, api_key, upstream):
    status, _ = get_as_is(gateway_address, "/image/wait...%20what%3F%2E?model=flux&width=64&height=64", api_key)
    assert status == 200
    [forwarded] = upstream_requests(upstream)
    assert forwarded["path"].startswith("/image/wait...")
