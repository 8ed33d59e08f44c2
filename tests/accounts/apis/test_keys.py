"""API keys through the management API: secret shown once, list, rotate, revoke, bad input."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from accounts.keyauth import resolve_api_key
from accounts.keyformat import key_hash
from accounts.models import ApiKey
from tests.accounts.factories import user_create_for_tests

pytestmark = pytest.mark.django_db
resolve = async_to_sync(resolve_api_key)


def test_creating_a_key_shows_the_secret_once_and_stores_only_its_hash(owner, jwt_client):
    client = jwt_client(owner)
    created = client.post("/api/orgs/acme/keys", {"name": "ci", "scopes": ["text", "image"]}, format="json")
    assert created.status_code == 201
    raw = created.json()["key"]
    stored = ApiKey.objects.get(pk=created.json()["id"])
    assert stored.key_hash == key_hash(raw)
    assert raw not in str(ApiKey.objects.filter(pk=stored.pk).values().get())
    listed = client.get("/api/orgs/acme/keys").json()
    assert [k["prefix"] for k in listed] == [raw[:12]]
    assert "key" not in listed[0]
    assert "key_hash" not in listed[0]
    assert "key" not in client.get(f"/api/orgs/acme/keys/{stored.pk}").json()


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"scopes": ["text"]}, "name"),
        ({"name": "x" * 101, "scopes": ["text"]}, "name"),
        ({"name": "a", "scopes": []}, "scopes"),
        ({"name": "a", "scopes": ["video"]}, "scopes.0"),
        ({"name": "a", "scopes": "text"}, "scopes"),
        ({"name": "a", "scopes": ["text"], "limits": {"requests_per_minute": 0}}, "limits.requests_per_minute"),
        ({"name": "a", "scopes": ["text"], "limits": {"bogus": 1}}, "limits"),
        ({"name": "a", "scopes": ["text"], "expires_at": "yesterday"}, "expires_at"),
        ({"name": "a", "scopes": ["text"], "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "a", "scopes": ["text"], "allowed_models": ["m" * 201]}, "allowed_models.0"),
        ({"name": "a", "scopes": ["text"], "allowed_models": ["no-such-model"]}, "allowed_models"),
        ({"name": "a\u0007\u001b[31mb", "scopes": ["text"]}, "name"),
        ({"name": "\u200b", "scopes": ["text"]}, "name"),
        ({"name": "\u202egnp.exe", "scopes": ["text"]}, "name"),
    ],
)
def test_bad_key_input_is_a_400_naming_the_field_and_creates_nothing(body, param, owner, jwt_client):
    response = jwt_client(owner).post("/api/orgs/acme/keys", body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["param"] == param
    assert not ApiKey.objects.exists()


def test_a_duplicate_active_name_is_a_409_and_creates_nothing(owner, jwt_client):
    client = jwt_client(owner)
    client.post("/api/orgs/acme/keys", {"name": "ci", "scopes": ["text"]}, format="json")
    again = client.post("/api/orgs/acme/keys", {"name": "ci", "scopes": ["text"]}, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["param"] == "name"
    assert ApiKey.objects.count() == 1


def test_rotating_gives_a_new_secret_and_kills_the_old_one(owner, jwt_client, django_capture_on_commit_callbacks):
    client = jwt_client(owner)
    created = client.post("/api/orgs/acme/keys", {"name": "ci", "scopes": ["text"]}, format="json").json()
    resolve(created["key"])
    with django_capture_on_commit_callbacks(execute=True):
        rotated = client.post(f"/api/orgs/acme/keys/{created['id']}/rotate")
    assert rotated.status_code == 201
    assert rotated.json()["key"] != created["key"]
    assert rotated.json()["name"] == "ci"
    with pytest.raises(Exception, match="Invalid or missing API key"):
        resolve(created["key"])
    assert resolve(rotated.json()["key"]).key_id == rotated.json()["id"]


def test_revoking_by_delete_kills_the_key(owner, jwt_client, django_capture_on_commit_callbacks):
    client = jwt_client(owner)
    created = client.post("/api/orgs/acme/keys", {"name": "ci", "scopes": ["text"]}, format="json").json()
    resolve(created["key"])
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(f"/api/orgs/acme/keys/{created['id']}").status_code == 204
    with pytest.raises(Exception, match="Invalid or missing API key"):
        resolve(created["key"])
    assert client.get("/api/orgs/acme/keys").json() == []


def test_a_viewer_can_list_keys_but_not_create_them(user_with_role, jwt_client):
    client = jwt_client(user_with_role("viewer"))
    assert client.get("/api/orgs/acme/keys").status_code == 200
    denied = client.post("/api/orgs/acme/keys", {"name": "ci", "scopes": ["text"]}, format="json")
    assert denied.status_code == 403
    assert denied.json()["error"]["type"] == "permission_error"


def test_a_method_an_endpoint_does_not_have_is_a_405_for_members_and_still_hidden_from_others(
    owner, user_with_role, jwt_client
):
    created = jwt_client(owner).post("/api/orgs/acme/keys", {"name": "ci", "scopes": ["text"]}, format="json").json()
    wrong = jwt_client(user_with_role("viewer")).patch(f"/api/orgs/acme/keys/{created['id']}/revoke")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["type"] == "invalid_request_error"
    assert ApiKey.objects.get(pk=created["id"]).revoked_at is None
    # A method the endpoint has stays denied to a role without the action.
    assert jwt_client(user_with_role("viewer")).post(f"/api/orgs/acme/keys/{created['id']}/revoke").status_code == 403
    # Someone outside the organisation learns nothing about the endpoint either.
    outsider = jwt_client(user_create_for_tests()).patch(f"/api/orgs/acme/keys/{created['id']}/revoke")
    assert outsider.status_code == 404


@pytest.mark.parametrize(
    ("path", "body"),
    [("members/999999", {"role": "emperor"}), ("keys/999999", {"scopes": ["telepathy"]})],
)
def test_editing_something_that_does_not_exist_is_a_404_even_with_a_bad_body(owner, jwt_client, path, body):
    """What the request names is looked up before its body is judged: fixing the body would not help."""
    response = jwt_client(owner).patch(f"/api/orgs/acme/{path}", body, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"


def test_a_key_may_list_models_by_their_ids_and_aliases(owner, jwt_client):
    body = {"name": "a", "scopes": ["text", "audio"], "allowed_models": ["openai", "gpt-5-nano", "whisper-1"]}
    response = jwt_client(owner).post("/api/orgs/acme/keys", body, format="json")
    assert response.status_code == 201, response.json()
    assert ApiKey.objects.get().allowed_models == ["gpt-5-nano", "openai", "whisper-1"]
