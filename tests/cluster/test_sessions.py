"""A browser session started on one replica is valid on every other: one ``SECRET_KEY`` and sessions
in the shared database."""

from __future__ import annotations

import re
import secrets

import httpx
import pytest

from scripts.cluster_local import Cluster
from scripts.local_processes import manage

pytestmark = pytest.mark.slow

PASSWORD_ENV = "CLUSTER_ADMIN_PASSWORD"  # pragma: allowlist secret


def admin_sign_in(url: str, email: str, password: str) -> httpx.Cookies:
    """Sign in at ``url``'s ``/admin/login/`` like a browser (CSRF cookie and token); return the cookies."""
    with httpx.Client(base_url=url, timeout=10) as client:
        form = client.get("/admin/login/")
        assert form.status_code == 200, form.text[:200]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert token, form.text[:500]
        signed_in = client.post(
            "/admin/login/?next=/admin/",
            data={"csrfmiddlewaretoken": token.group(1), "username": email, "password": password, "next": "/admin/"},
        )
        assert signed_in.status_code == 302, signed_in.text[:500]
        assert signed_in.headers["Location"] == "/admin/"
        return client.cookies


def test_an_admin_session_started_on_one_replica_is_accepted_by_the_others(cluster: Cluster) -> None:
    email, password = f"admin-{secrets.token_hex(4)}@cluster.test", secrets.token_urlsafe(16)
    manage(
        ["create_user", "--email", email, "--superuser", "--password-env", PASSWORD_ENV],
        {**cluster.env, PASSWORD_ENV: password},
    )
    first, *others = cluster.replica_urls
    cookies = admin_sign_in(first, email, password)
    session = cookies.get("sessionid")
    assert session

    for url in others:
        # A fresh client with only the session cookie: nothing else carries over from the first replica.
        response = httpx.get(f"{url}/admin/", cookies={"sessionid": session}, timeout=10)
        assert response.status_code == 200, (url, response.status_code, response.headers.get("Location"))
        assert email in response.text, url
    # Without the cookie the same page is a redirect to the sign-in form: the cookie is what let us in.
    anonymous = httpx.get(f"{others[0]}/admin/", timeout=10)
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"].startswith("/admin/login/")
