"""Brute-force protection: per-account lock-out, per-IP limit, the admin sign-in, all audited."""

from __future__ import annotations

import pytest
import redis
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from tests.accounts.factories import PASSWORD, user_create_for_tests

pytestmark = pytest.mark.django_db


def _login(client, email, password, ip="203.0.113.1"):
    return client.post("/api/auth/token", {"email": email, "password": password}, format="json", REMOTE_ADDR=ip)


def test_an_account_is_locked_after_five_failures_even_with_the_right_password():
    user = user_create_for_tests()
    client = APIClient()
    for attempt in range(5):
        assert _login(client, user.email, "wrong", ip=f"198.51.100.{attempt}").status_code == 401
    locked = _login(client, user.email, PASSWORD, ip="198.51.100.99")
    assert locked.status_code == 429
    assert locked["Retry-After"]
    assert locked.json()["error"]["code"] == "too_many_attempts"
    assert "Wait" in locked.json()["error"]["message"]
    assert AuditEvent.objects.filter(action="login_locked_out", actor_email=user.email).exists()


def test_successful_sign_ins_do_not_count_towards_the_lock_out():
    user = user_create_for_tests()
    client = APIClient()
    for _ in range(8):
        assert _login(client, user.email, PASSWORD).status_code == 200


def test_one_ip_is_limited_across_accounts(settings):
    settings.ACCOUNTS_RATE_LIMITS = {**settings.ACCOUNTS_RATE_LIMITS, "login": {"ip": "3/m", "account": "100/m"}}
    client = APIClient()
    statuses = [_login(client, f"u{i}@example.com", "x").status_code for i in range(5)]
    assert statuses == [401, 401, 401, 429, 429]


def test_another_ip_is_not_limited_by_the_first(settings):
    settings.ACCOUNTS_RATE_LIMITS = {**settings.ACCOUNTS_RATE_LIMITS, "login": {"ip": "2/m", "account": "100/m"}}
    client = APIClient()
    for _ in range(3):
        _login(client, "a@example.com", "x", ip="203.0.113.7")
    assert _login(client, "a@example.com", "x", ip="203.0.113.8").status_code == 401


def test_registration_and_password_reset_are_limited_too():
    client = APIClient()
    reset = [
        client.post("/api/auth/password/reset", {"email": "a@example.com"}, format="json").status_code for _ in range(5)
    ]
    assert reset[:3] == [202, 202, 202]
    assert reset[-1] == 429
    body = {"email": "b@example.com", "password": "short"}  # pragma: allowlist secret
    register = [client.post("/api/auth/register", body, format="json") for _ in range(5)]
    assert register[-1].status_code == 429
    assert "reset your password" not in register[-1].json()["error"]["message"]  # advice for a sign-in only


def test_the_admin_sign_in_is_locked_after_repeated_failures(client):
    user = user_create_for_tests(is_staff=True)
    for _ in range(5):
        response = client.post("/admin/login/", {"username": user.email, "password": "wrong"})
        assert response.status_code == 200
    locked = client.post("/admin/login/", {"username": user.email, "password": PASSWORD})
    assert locked.status_code == 429
    assert "Too many attempts" in locked.content.decode()
    assert "reset your password" in locked.content.decode()


def test_the_admin_sign_in_still_works_below_the_limit(client):
    user = user_create_for_tests(is_staff=True)
    response = client.post("/admin/login/", {"username": user.email, "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="login_succeeded", actor=user).exists()


@pytest.fixture
def shared_cache_down(monkeypatch):
    """Redis down: the counters' cache fails as django-redis lets it (redis-py's own error)."""

    def unreachable(*args, **kwargs):
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("accounts.throttling.get_usage", unreachable)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/auth/token", {"email": "a@example.com", "password": "x"}),
        ("/api/auth/register", {"email": "b@example.com", "password": "Sup3r-secret-pw!"}),  # pragma: allowlist secret
        ("/api/auth/password/reset", {"email": "a@example.com"}),
    ],
)
def test_with_the_counters_unreachable_attempts_are_refused_with_503_not_let_through(shared_cache_down, path, body):
    """Fail closed, like credits: brute-force protection is never switched off by an outage (it was a 500)."""
    response = APIClient().post(path, body, format="json")
    assert response.status_code == 503
    assert response["Retry-After"]
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("service_unavailable", "throttle_unavailable")


def test_with_the_counters_unreachable_the_admin_sign_in_is_a_json_503(shared_cache_down, client):
    user = user_create_for_tests(is_staff=True)
    response = client.post("/admin/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "throttle_unavailable"


# --- Behind a reverse proxy ------------------------------------------------------------------------


def _ip_of(settings, trusted: tuple[str, ...], peer: str, forwarded: str | None) -> str | None:
    from django.test import RequestFactory

    from accounts.throttling import client_ip

    settings.TRUSTED_PROXIES = trusted
    extra = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_ip(RequestFactory().post("/api/auth/token", **extra))


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "client"),
    [
        # No proxy configured: the header is the client's own claim, ignored.
        ((), "203.0.113.9", "198.51.100.1", "203.0.113.9"),
        # The ingress appended the address it was reached from.
        (("10.0.0.0/8",), "10.1.2.3", "198.51.100.1", "198.51.100.1"),
        # A client that forges the header only adds entries to its left.
        (("10.0.0.0/8",), "10.1.2.3", "192.0.2.66, 198.51.100.1", "198.51.100.1"),
        # Two proxies of ours in a row (a load balancer, then the ingress) are both skipped.
        (("10.0.0.0/8", "172.16.0.0/12"), "10.1.2.3", "198.51.100.1, 172.16.4.4", "198.51.100.1"),
        # A peer that is not a proxy of ours cannot speak for anyone else.
        (("10.0.0.0/8",), "203.0.113.9", "198.51.100.1", "203.0.113.9"),
        # A client inside the cluster: every hop is private, the nearest is the one the ingress saw.
        (("10.0.0.0/8",), "10.1.2.3", "10.9.9.9, 10.2.3.4", "10.2.3.4"),
        # A proxy of ours that passed no header, or garbage: its own address is all we know.
        (("10.0.0.0/8",), "10.1.2.3", None, "10.1.2.3"),
        (("10.0.0.0/8",), "10.1.2.3", "198.51.100.1, not-an-ip", "10.1.2.3"),
        (("2001:db8::/32",), "2001:db8::1", "2001:db8:ffff::1, 2a00:1450::5", "2a00:1450::5"),
        # Garbage (or an empty entry) left of our own hops: the nearest of ours is what the edge saw.
        (("10.0.0.0/8",), "10.1.2.3", "198.51.100.1, not-an-ip, 10.2.3.4", "10.2.3.4"),
        (("10.0.0.0/8",), "10.1.2.3", "198.51.100.1,, 10.2.3.4", "10.2.3.4"),
        # An IPv6 client behind an IPv4 proxy, and the reverse: versions never match each other's networks.
        (("10.0.0.0/8",), "10.1.2.3", "2a00:1450::5", "2a00:1450::5"),
        (("2001:db8::/32", "10.0.0.0/8"), "2001:db8::1", "198.51.100.1, 10.2.3.4", "198.51.100.1"),
        # A peer that is not an address (a Unix socket's) is never a proxy of ours.
        (("10.0.0.0/8",), "unix-socket", "198.51.100.1", "unix-socket"),
    ],
)
def test_the_client_address_behind_trusted_proxies_is_the_first_forwarded_hop_not_ours(
    settings, trusted, peer, forwarded, client
):
    assert _ip_of(settings, trusted, peer, forwarded) == client


def test_behind_the_ingress_one_attacker_is_limited_without_locking_out_everyone_else(settings):
    # Every request reaches the web pods from the ingress controller: limited by that address,
    # one client's failures would lock every other client out.
    settings.TRUSTED_PROXIES = ("10.0.0.0/8",)
    settings.ACCOUNTS_RATE_LIMITS = {**settings.ACCOUNTS_RATE_LIMITS, "login": {"ip": "3/m", "account": "100/m"}}
    user = user_create_for_tests()
    client = APIClient()

    def login(password: str, client_address: str):
        return client.post(
            "/api/auth/token",
            {"email": user.email, "password": password},
            format="json",
            REMOTE_ADDR="10.0.0.5",
            HTTP_X_FORWARDED_FOR=client_address,
        )

    assert [login("wrong", "198.51.100.7").status_code for _ in range(4)] == [401, 401, 401, 429]
    assert login(PASSWORD, "203.0.113.20").status_code == 200
