"""OpenID Connect sign-in for the dashboard (django-allauth), against a fake provider on loopback.

allauth talks to the provider with ``requests``, so the fake is a real HTTP server in a thread.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from accounts.models import AuditEvent, User
from mcp_site.config import load_config, oidc_providers

CLIENT_ID = "mcp-gateway"
CLIENT_SECRET = "fake-oidc-client-secret"  # pragma: allowlist secret
CLAIMS = {"sub": "user-42", "email": "sso.user@example.com", "email_verified": True, "name": "SSO User"}


class _FakeProvider(BaseHTTPRequestHandler):
    issuer = ""
    token_requests: list[dict] = []

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _json(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/.well-known/openid-configuration":
            self._json(
                {
                    "issuer": self.issuer,
                    "authorization_endpoint": f"{self.issuer}/authorize",
                    "token_endpoint": f"{self.issuer}/token",
                    "userinfo_endpoint": f"{self.issuer}/userinfo",
                    "jwks_uri": f"{self.issuer}/jwks",
                    "token_endpoint_auth_methods_supported": ["client_secret_post"],
                }
            )
        elif self.path == "/userinfo":
            self._json(CLAIMS)
        else:
            self.send_error(404)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        type(self).token_requests.append(form)
        if self.path != "/token" or form.get("code") != "good-code" or form.get("client_secret") != CLIENT_SECRET:
            self.send_error(400)
            return
        now = int(time.time())
        id_token = jwt.encode(
            {**CLAIMS, "iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300},
            "provider-signing-key-not-checked-here",
            algorithm="HS256",
        )
        self._json({"access_token": "fake-access", "token_type": "Bearer", "expires_in": 300, "id_token": id_token})


@pytest.fixture
def fake_provider() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeProvider)
    issuer = f"http://127.0.0.1:{server.server_address[1]}"
    _FakeProvider.issuer = issuer
    _FakeProvider.token_requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def oidc_on(settings, fake_provider) -> str:
    config = load_config(
        {"OIDC_PROVIDER_URL": fake_provider, "OIDC_CLIENT_ID": CLIENT_ID, "OIDC_CLIENT_SECRET": CLIENT_SECRET}
    )
    settings.SOCIALACCOUNT_PROVIDERS = oidc_providers(config)
    return fake_provider


def _start_login(client) -> dict[str, str]:
    response = client.post("/accounts/oidc/oidc/login/")
    assert response.status_code == 302, response.content[:500]
    return {k: v[0] for k, v in parse_qs(urlsplit(response["Location"]).query).items()}


@pytest.mark.django_db
def test_oidc_sign_in_creates_the_user_and_signs_them_in(client, oidc_on):
    params = _start_login(client)
    assert urlsplit(client.post("/accounts/oidc/oidc/login/")["Location"]).path == "/authorize"
    assert params["client_id"] == CLIENT_ID
    assert params["code_challenge_method"] == "S256"
    params = _start_login(client)
    response = client.get("/accounts/oidc/oidc/login/callback/", {"code": "good-code", "state": params["state"]})
    assert response.status_code == 302, response.content[:500]
    user = User.objects.get(email="sso.user@example.com")
    assert int(client.session["_auth_user_id"]) == user.pk
    assert AuditEvent.objects.filter(action="login_succeeded", actor=user).exists()
    assert _FakeProvider.token_requests[-1]["code_verifier"]


@pytest.mark.django_db
def test_a_forged_state_is_refused_and_signs_nobody_in(client, oidc_on):
    _start_login(client)
    response = client.get("/accounts/oidc/oidc/login/callback/", {"code": "good-code", "state": "forged"})
    assert "_auth_user_id" not in client.session
    assert not User.objects.filter(email="sso.user@example.com").exists()
    assert response.status_code == 401
    assert _FakeProvider.token_requests == []


@pytest.mark.django_db
def test_invite_only_mode_refuses_oidc_sign_up_of_unknown_users(client, oidc_on, settings):
    settings.REGISTRATION_MODE = "invite"
    params = _start_login(client)
    client.get("/accounts/oidc/oidc/login/callback/", {"code": "good-code", "state": params["state"]})
    assert not User.objects.filter(email="sso.user@example.com").exists()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_oidc_is_off_by_default(client, settings):
    settings.SOCIALACCOUNT_PROVIDERS = oidc_providers(load_config({}))
    assert client.post("/accounts/oidc/oidc/login/").status_code == 404
