"""JWT lifecycle: obtain, refresh with rotation, blacklist after rotation and on logout; /api/me."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.accounts.factories import PASSWORD, user_create_for_tests

pytestmark = pytest.mark.django_db


def _obtain(client: APIClient, email: str, password: str = PASSWORD):
    return client.post("/api/auth/token", {"email": email, "password": password}, format="json")


def test_a_user_obtains_an_access_and_a_refresh_token(anon_client):
    user = user_create_for_tests()
    response = _obtain(anon_client, user.email)
    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}


def test_a_wrong_password_is_a_401_with_the_error_shape(anon_client):
    user = user_create_for_tests()
    response = _obtain(anon_client, user.email, "wrong-password")
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "message": "Invalid e-mail or password.",
            "type": "authentication_error",
            "code": "invalid_credentials",
            "param": None,
        }
    }


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(anon_client):
    assert (
        _obtain(anon_client, "nobody@example.com").json()
        == _obtain(anon_client, user_create_for_tests().email, "nope").json()
    )


def test_the_access_token_opens_api_me_with_organisations_and_roles(anon_client, org, user_with_role):
    user = user_with_role("developer")
    access = _obtain(anon_client, user.email).json()["access"]
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    body = anon_client.get("/api/me").json()
    assert body["email"] == user.email
    assert body["organizations"] == [{"slug": "acme", "name": "Acme", "role": "developer"}]


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-jwt", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x", "Token abc", ""],  # pragma: allowlist secret
    ids=["garbage", "bad-signature", "wrong-scheme", "missing"],
)
def test_bad_access_tokens_are_401_without_details(anon_client, authorization):
    if authorization:
        anon_client.credentials(HTTP_AUTHORIZATION=authorization)
    response = anon_client.get("/api/me")
    assert response.status_code == 401
    assert response.json()["error"] == {
        "message": "Invalid or missing credentials.",
        "type": "authentication_error",
        "code": "invalid_credentials",
        "param": None,
    }


def test_a_refresh_token_rotates_and_the_old_one_is_blacklisted(anon_client):
    tokens = _obtain(anon_client, user_create_for_tests().email).json()
    first = anon_client.post("/api/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert first.status_code == 200
    assert first.json()["refresh"] != tokens["refresh"]
    replay = anon_client.post("/api/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert replay.status_code == 401
    assert (
        anon_client.post("/api/auth/token/refresh", {"refresh": first.json()["refresh"]}, format="json").status_code
        == 200
    )


def test_logout_blacklists_the_refresh_token(anon_client):
    tokens = _obtain(anon_client, user_create_for_tests().email).json()
    assert anon_client.post("/api/auth/logout", {"refresh": tokens["refresh"]}, format="json").status_code == 204
    again = anon_client.post("/api/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert again.status_code == 401


def test_an_access_token_is_not_accepted_as_a_refresh_token(anon_client):
    tokens = _obtain(anon_client, user_create_for_tests().email).json()
    assert anon_client.post("/api/auth/token/refresh", {"refresh": tokens["access"]}, format="json").status_code == 401


def test_a_password_change_signs_out_every_refresh_token(anon_client):
    user = user_create_for_tests()
    tokens = _obtain(anon_client, user.email).json()
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    new_password = "another-Long-passw0rd"  # pragma: allowlist secret
    changed = anon_client.post(
        "/api/auth/password/change", {"old_password": PASSWORD, "new_password": new_password}, format="json"
    )
    assert changed.status_code == 204
    anon_client.credentials()
    assert anon_client.post("/api/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json").status_code == 401
    assert _obtain(anon_client, user.email, new_password).status_code == 200


def test_a_wrong_current_password_names_the_field(jwt_client):
    user = user_create_for_tests()
    response = jwt_client(user).post(
        "/api/auth/password/change",
        {"old_password": "nope", "new_password": "x" * 20},  # pragma: allowlist secret
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "old_password"


def test_a_malformed_json_body_is_a_400(anon_client):
    response = anon_client.post("/api/auth/token", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_an_oversized_field_is_a_400_naming_the_field(anon_client):
    response = anon_client.post("/api/auth/token", {"email": "a@b.co", "password": "x" * 10_000}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "password"
