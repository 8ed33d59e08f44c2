"""Liveness, readiness and the Prometheus endpoint."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_django

pytestmark = pytest.mark.django_db(transaction=True)


def test_healthz_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_every_dependency_ready(client, default_upstream):
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert {"database", "cache", "channel_layer"} <= set(body["checks"])
    assert all(check["ok"] for check in body["checks"].values())


def test_readyz_is_503_naming_the_database_when_it_is_unreachable():
    # Port 1 on loopback refuses connections: the database is configured but unreachable.
    result = run_django(
        "import json\n"
        "from django.test import Client\n"
        "r = Client().get('/readyz')\n"
        "print(json.dumps({'status': r.status_code, 'body': r.json()}))\n"
        "os._exit(0)\n",
        env={"DATABASE_URL": "postgres://postgres@127.0.0.1:1/test"},
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["status"] == 503
    assert outcome["body"]["status"] == "unavailable"
    assert outcome["body"]["failed"] == ["database"]
    assert outcome["body"]["checks"]["database"]["ok"] is False
    assert "127.0.0.1" not in json.dumps(outcome["body"]), "no host or credentials in the response"


def test_readyz_includes_registered_checks_and_fails_with_them(client, default_upstream):
    from core import readiness

    async def broken() -> None:
        raise RuntimeError("secret-host:5432 refused")

    readiness.register_readiness_check("test_broken", broken)
    try:
        response = client.get("/readyz")
    finally:
        readiness._CHECKS.pop("test_broken")
    assert response.status_code == 503
    assert response.json()["failed"] == ["test_broken"]
    assert "secret-host" not in response.content.decode()


def test_metrics_expose_request_counts_by_route(client):
    client.get("/healthz")
    body = client.get("/metrics").content.decode()
    assert 'mcp_http_requests_total{method="GET",route="healthz",status="200"}' in body
    assert "mcp_http_request_duration_seconds_bucket" in body


TOKEN = "metrics-token-0123456789abcdef"  # pragma: allowlist secret


def test_with_a_metrics_token_only_a_scraper_sending_it_reads_the_metrics(client, settings):
    settings.METRICS_TOKEN = TOKEN
    refused = [
        client.get("/metrics"),
        client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN[:-1]}x"}),
        client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}),
    ]
    for response in refused:
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_metrics_token"
        assert "mcp_" not in response.content.decode()
    assert refused[0].headers["WWW-Authenticate"] == "Bearer"
    allowed = client.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"})
    assert allowed.status_code == 200 and "mcp_http_requests_total" in allowed.content.decode()


@pytest.mark.parametrize("peer", ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
def test_without_a_metrics_token_a_client_on_this_machine_reads_the_metrics(client, settings, peer):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", REMOTE_ADDR=peer)
    assert response.status_code == 200 and "mcp_http_requests_total" in response.content.decode()


@pytest.mark.parametrize(
    "outsider",
    [
        {"REMOTE_ADDR": "10.1.2.3"},
        {"REMOTE_ADDR": "2001:db8::1"},
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"},  # a proxy on this machine
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_FORWARDED": "for=203.0.113.9"},
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_REAL_IP": "203.0.113.9"},
        {"REMOTE_ADDR": ""},
    ],
)
def test_without_a_metrics_token_anyone_else_is_refused(client, settings, outsider):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", **outsider)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "metrics_local_only"
    assert "mcp_" not in response.content.decode()


def test_a_metrics_token_too_short_to_be_secret_is_refused_at_start_up():
    from django.core.exceptions import ImproperlyConfigured

    from mcp_site.config import load_config

    assert load_config({"METRICS_TOKEN": TOKEN}).metrics_token == TOKEN
    assert load_config({}).metrics_token == ""
    with pytest.raises(ImproperlyConfigured, match="METRICS_TOKEN"):
        load_config({"METRICS_TOKEN": "short"})


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
@pytest.mark.parametrize("method", ["post", "put", "delete", "options"])
def test_the_operations_endpoints_answer_only_get_and_head(client, default_upstream, path, method):
    refused = getattr(client, method)(path)
    assert (refused.status_code, refused.headers.get("Allow")) == (405, "GET, HEAD")
    assert refused.json()["error"]["code"] == "method_not_allowed"
    assert client.head(path).status_code == 200
