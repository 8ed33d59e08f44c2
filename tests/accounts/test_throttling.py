"""Brute-force protection: per-account lock-out, per-IP limit, the admin sign-in, all audited."""

from __future__ import annotations

import pytest
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
    register = [client.post("/api/auth/register", body, format="json").status_code for _ in range(5)]
    assert register[-1] == 429


def test_the_admin_sign_in_is_locked_after_repeated_failures(client):
    user = user_create_for_tests(is_staff=True)
    for _ in range(5):
        response = client.post("/admin/login/", {"username": user.email, "password": "wrong"})
        assert response.status_code == 200
    locked = client.post("/admin/login/", {"username": user.email, "password": PASSWORD})
    assert locked.status_code == 429
    assert "Too many attempts" in locked.content.decode()


def test_the_admin_sign_in_still_works_below_the_limit(client):
    user = user_create_for_tests(is_staff=True)
    response = client.post("/admin/login/", {"username": user.email, "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="login_succeeded", actor=user).exists()
