"""OpenID Connect sign-in for the dashboard (django-allauth), against a fake provider on loopback.

allauth talks to the provider with ``requests``, so the fake is a real HTTP server in a thread.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
from django.core.cache import cache

from accounts.models import AuditEvent, User
from accounts.services import invitation_create, organization_create
from mcp_site.config import load_config, oidc_form_action_origins, oidc_providers
from tests.conftest import run_django
from tests.fixtures.simulator_server import free_port

CLIENT_ID = "mcp-gateway"
CLIENT_SECRET = "fake-oidc-client-secret"  # pragma: allowlist secret
SQUATTER_PASSWORD = "registered-by-someone-else-1"  # pragma: allowlist secret
CLAIMS = {"sub": "user-42", "email": "sso.user@example.com", "email_verified": True, "name": "SSO User"}


class _FakeProvider(BaseHTTPRequestHandler):
    issuer = ""
    token_requests: list[dict] = []
    discovery_requests = 0
    discovery_failures = 0  # how many of the next discovery requests answer 503

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
            type(self).discovery_requests += 1
            if type(self).discovery_failures:
                type(self).discovery_failures -= 1
                self.send_error(503)
                return
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
    _FakeProvider.discovery_requests = _FakeProvider.discovery_failures = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()


def _use_provider(settings, url: str) -> None:
    config = load_config({"OIDC_PROVIDER_URL": url, "OIDC_CLIENT_ID": CLIENT_ID, "OIDC_CLIENT_SECRET": CLIENT_SECRET})
    settings.SOCIALACCOUNT_PROVIDERS = oidc_providers(config)
    cache.clear()  # the discovery document of an earlier test's provider


@pytest.fixture
def oidc_on(settings, fake_provider) -> str:
    _use_provider(settings, fake_provider)
    return fake_provider


def _start_login(client, query: str = "") -> dict[str, str]:
    response = client.post(f"/accounts/oidc/oidc/login/{query}")
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
    assert response.status_code == 400
    assert b"expired or was altered" in response.content
    assert _FakeProvider.token_requests == []
    event = AuditEvent.objects.get(action="login_failed")
    assert event.detail == {"via": "oidc", "reason": "state_mismatch", "path": "/accounts/oidc/oidc/login/callback/"}


@pytest.mark.django_db
def test_invite_only_mode_refuses_oidc_sign_up_of_unknown_users(client, oidc_on, settings):
    settings.REGISTRATION_MODE = "invite"
    params = _start_login(client)
    client.get("/accounts/oidc/oidc/login/callback/", {"code": "good-code", "state": params["state"]})
    assert not User.objects.filter(email="sso.user@example.com").exists()
    assert "_auth_user_id" not in client.session
    assert _audited_reason() == "signup_refused"


@pytest.mark.django_db
def test_oidc_is_off_by_default(client, settings):
    settings.SOCIALACCOUNT_PROVIDERS = oidc_providers(load_config({}))
    assert client.post("/accounts/oidc/oidc/login/").status_code == 404


def _callback(client, query: str = "", **params: str):
    """Start a sign-in, then come back to the callback with its state and ``params``."""
    state = _start_login(client, query)["state"]
    return client.get("/accounts/oidc/oidc/login/callback/", {"state": state, **params})


def _finish_login(client, query: str = ""):
    return _callback(client, query, code="good-code")


def _audited_reason() -> str:
    return AuditEvent.objects.get(action="login_failed").detail["reason"]


@pytest.mark.django_db
def test_the_name_claim_becomes_the_users_name(client, oidc_on):
    _finish_login(client)
    assert User.objects.get(email="sso.user@example.com").full_name == "SSO User"


@pytest.mark.django_db
def test_an_existing_account_gets_the_name_claim_only_when_it_has_no_name(client, oidc_on):
    User.objects.create_user(email="sso.user@example.com", password=None, full_name="Chosen Name")
    _finish_login(client)
    assert User.objects.get(email="sso.user@example.com").full_name == "Chosen Name"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("next_url", "lands_on"),
    [
        ("", "/"),
        ("/api/me", "/api/me"),
        ("http://testserver/api/me", "http://testserver/api/me"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("http://localhost/elsewhere", "/"),  # an allowed host, but not this origin
        ("https://testserver/api/me", "/"),  # another scheme is another origin
    ],
)
def test_after_sign_in_people_land_on_next_only_when_it_is_same_origin(client, oidc_on, next_url, lands_on):
    query = f"?{urlencode({'next': next_url})}" if next_url else ""
    response = _finish_login(client, query)
    assert response.status_code == 302
    assert response["Location"] == lands_on


@pytest.mark.django_db
def test_the_discovery_document_is_fetched_once_and_reused(client, oidc_on):
    _finish_login(client)
    _finish_login(client)
    assert _FakeProvider.discovery_requests == 1


@pytest.mark.django_db
def test_with_the_shared_cache_down_sign_in_still_works_and_asks_the_provider_each_time(
    client, oidc_on, unreachable_cache
):
    assert _finish_login(client).status_code == 302
    assert _finish_login(client).status_code == 302
    assert _FakeProvider.discovery_requests == 4  # the redirect and the callback of each sign-in ask


@pytest.mark.django_db
def test_a_failed_discovery_fetch_is_a_clear_page_and_is_not_cached(client, oidc_on):
    _FakeProvider.discovery_failures = 1
    response = client.post("/accounts/oidc/oidc/login/")
    assert response.status_code == 502
    assert b"We could not reach Single sign-on. Please try again in a moment." in response.content
    assert _audited_reason() == "provider_unreachable"
    assert client.post("/accounts/oidc/oidc/login/").status_code == 302
    assert _FakeProvider.discovery_requests == 2


@pytest.mark.django_db
def test_an_unreachable_provider_at_the_click_is_a_clear_page_not_a_500(client, settings):
    _use_provider(settings, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    response = client.post("/accounts/oidc/oidc/login/")
    assert response.status_code == 502
    assert b"Traceback" not in response.content
    assert b'href="/accounts/oidc/oidc/login/"' in response.content  # try again
    assert _audited_reason() == "provider_unreachable"


@pytest.mark.django_db
def test_a_refused_token_request_is_a_clear_page_and_audited(client, oidc_on):
    response = _callback(client, code="bad-code")
    assert response.status_code == 502
    assert b"did not complete the sign-in" in response.content
    assert _audited_reason() == "provider_error"
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_an_unverified_email_is_refused(client, oidc_on, monkeypatch):
    monkeypatch.setitem(CLAIMS, "email_verified", False)
    response = _finish_login(client)
    assert response.status_code == 403
    assert not User.objects.filter(email="sso.user@example.com").exists()
    event = AuditEvent.objects.get(action="login_failed")
    assert (event.actor_email, event.detail["reason"]) == ("sso.user@example.com", "email_unverified")


@pytest.mark.django_db
def test_invite_only_mode_lets_an_invited_email_sign_up_and_join_the_organisation(client, oidc_on, settings):
    settings.REGISTRATION_MODE = "invite"
    org = organization_create(name="Acme", slug="acme", owner=None)
    invitation_create(organization=org, email="SSO.User@example.com", role="developer")
    response = _finish_login(client)
    assert response.status_code == 302
    user = User.objects.get(email="sso.user@example.com")
    assert list(user.memberships.values_list("organization__slug", "role")) == [("acme", "developer")]
    assert AuditEvent.objects.filter(action="invitation_accepted", actor=user).exists()


def test_csp_form_action_allows_the_provider_origin_and_nothing_else():
    config = load_config(
        {
            "OIDC_PROVIDER_URL": "https://id.example.com:8443/realms/main",
            "OIDC_CLIENT_ID": "a",
            "OIDC_CLIENT_SECRET": "b",
        }
    )
    assert oidc_form_action_origins(config) == ("https://id.example.com:8443",)
    assert oidc_form_action_origins(load_config({})) == ()
    done = run_django(
        "from django.conf import settings; print(settings.CONTENT_SECURITY_POLICY)",
        {"OIDC_PROVIDER_URL": "https://id.example.com/realms/main", "OIDC_CLIENT_ID": "a", "OIDC_CLIENT_SECRET": "b"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("; form-action 'self' https://id.example.com")


@pytest.mark.django_db
def test_linking_an_account_by_email_disables_a_password_that_never_proved_the_address(client, oidc_on):
    # Anyone may register any address with a password; the provider's verified e-mail wins the account.
    User.objects.create_user(email="sso.user@example.com", password=SQUATTER_PASSWORD)
    _finish_login(client)
    user = User.objects.get(email="sso.user@example.com")
    assert int(client.session["_auth_user_id"]) == user.pk
    assert not user.has_usable_password()


@pytest.mark.django_db
def test_declining_at_the_provider_is_a_clear_page_and_audited(client, oidc_on):
    response = _callback(client, error="access_denied")
    assert response.status_code == 401
    assert b"The sign-in was cancelled at Single sign-on." in response.content
    assert _audited_reason() == "cancelled"
