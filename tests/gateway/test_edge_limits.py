"""Bodies, hosts and security headers at the edge: 400/413 in the one error shape on every route."""

from __future__ import annotations

import pytest

from tests.gateway.conftest import upstream_requests
from tests.gateway.test_routing import assert_error_shape

pytestmark = pytest.mark.django_db(transaction=True)

DEEP = b"[" * 10_000 + b"]" * 10_000
DEEP_OBJECT = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
MB = 2**20
JSON_ROUTES = ["/v1/chat/completions", "/v1/images/generations", "/v1/audio/speech", "/v1/jobs", "/text"]
#: (path, the smallest body refused): 26 MB on the hot path (audio uploads), Django's 2.5 MB elsewhere.
EVERY_FAMILY = [
    ("/v1/chat/completions", 27 * MB),
    ("/v1/jobs", 27 * MB),
    ("/image/a%20cat", 27 * MB),
    ("/textbook", 27 * MB),
    ("/api/auth/token", 3 * MB),
    ("/api/orgs", 3 * MB),
    ("/accounts/login/", 3 * MB),
    ("/admin/login/", 3 * MB),
    ("/", 3 * MB),
]
HEADERS = {"content-type": "application/json"}


@pytest.mark.parametrize("path", [*JSON_ROUTES, "/api/auth/token", "/api/auth/register"])
@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["array", "object"])
async def test_deeply_nested_json_is_a_400_not_a_recursion_error(client, upstream, path, body):
    error = assert_error_shape(await client.post(path, content=body, headers=HEADERS), 400)
    assert "nested too deeply" in error["message"]
    assert upstream_requests(upstream) == []


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/api/auth/token", "/api/auth/register"])
@pytest.mark.parametrize(("body", "code"), [(b"{", "invalid_json"), (b'{"a": "\\ud800"}', "invalid_unicode")])
async def test_a_body_that_is_not_json_has_the_same_code_on_v1_and_api(client, upstream, path, body, code):
    error = assert_error_shape(await client.post(path, content=body, headers=HEADERS), 400)
    assert error["code"] == code


@pytest.mark.parametrize(("path", "size"), EVERY_FAMILY)
async def test_an_oversized_body_is_a_413_in_the_error_shape_on_every_route(client, upstream, path, size):
    body = b'{"messages": "' + b"x" * size + b'"}'
    response = await client.post(path, content=body, headers=HEADERS)
    assert assert_error_shape(response, 413)["code"] == "body_too_large"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert upstream_requests(upstream) == []


async def test_a_ten_megabyte_chat_body_is_judged_by_its_fields_not_a_500(client, upstream):
    body = b'{"messages": "' + b"x" * (10 * MB) + b'"}'
    error = assert_error_shape(await client.post("/v1/chat/completions", content=body, headers=HEADERS), 400)
    assert error["param"] == "messages"
    assert upstream_requests(upstream) == []


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/api/auth/token"])
async def test_an_oversized_body_without_a_content_length_is_refused_too(client, path):
    async def chunks():
        for _ in range(30):
            yield b"x" * MB

    assert_error_shape(await client.post(path, content=chunks(), headers=HEADERS), 413)


@pytest.fixture
def production_hosts(gateway_settings):
    gateway_settings.ALLOWED_HOSTS = ["gateway.example"]
    gateway_settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    gateway_settings.SECURE_HSTS_SECONDS = 31_536_000
    gateway_settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    gateway_settings.SECURE_HSTS_PRELOAD = True
    return gateway_settings


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/jobs"),
        ("GET", "/v1/jobs"),
        ("GET", "/v1/models"),
        ("GET", "/image/a%20cat"),
        ("GET", "/textbook"),
    ],
)
async def test_a_host_not_in_allowed_hosts_is_a_400_on_the_hot_path(client, upstream, production_hosts, method, path):
    body = {"messages": [{"role": "user", "content": "hi"}]} if method == "POST" else None
    response = await client.request(method, path, json=body, headers={"Host": "evil.example"})
    error = assert_error_shape(response, 400)
    assert (error["code"], error["param"]) == ("invalid_host", "Host")
    assert upstream_requests(upstream) == []


async def test_probes_are_answered_whatever_the_host(client, production_hosts):
    response = await client.get("/healthz", headers={"Host": "10.1.2.3:8000"})
    assert response.status_code == 200


async def test_the_hot_path_sends_hsts_over_tls_and_nosniff_always(client, production_hosts):
    host = {"Host": "gateway.example"}
    secure = await client.get("/v1/models", headers={**host, "X-Forwarded-Proto": "https"})
    assert secure.status_code == 200
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert secure.headers["X-Content-Type-Options"] == "nosniff"
    plain = await client.get("/v1/models", headers=host)
    assert "Strict-Transport-Security" not in plain.headers
    assert plain.headers["X-Content-Type-Options"] == "nosniff"
    refused = await client.post("/v1/chat/completions", json={}, headers={**host, "X-Forwarded-Proto": "https"})
    assert refused.status_code == 400
    assert refused.headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" in refused.headers


NUL_REQUESTS = [
    ("GET", "/v1/models?x=%00"),
    ("POST", "/v1/chat/completions?seed=%00"),
    ("GET", "/image/a%00cat"),
    ("GET", "/prompt/a%20cat?model=flux%00"),
    ("GET", "/textbook%00"),
    ("GET", "/api/orgs?org=%00"),
    ("GET", "/dashboard/usage/?model=%00"),
    ("GET", "/admin/accounts/organization/?q=%00"),
    ("GET", "/accounts/login/?next=%00"),
]


@pytest.mark.parametrize(("method", "path"), NUL_REQUESTS)
async def test_a_nul_in_the_path_or_query_is_a_400_at_the_edge_on_every_route(client, upstream, method, path):
    response = await client.request(method, path, headers={"X-Request-ID": "nul-probe-1"})
    error = assert_error_shape(response, 400)
    assert error["code"] == "invalid_value" and "NUL" in error["message"]
    assert response.headers["X-Request-ID"] == "nul-probe-1"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert upstream_requests(upstream) == []
