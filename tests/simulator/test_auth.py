"""Contract tests for gen API keys and legacy tokens."""

import pytest

from tests.simulator.conftest import PUBLISHABLE_KEY, RESTRICTED_KEY, SECRET_KEY
from tests.simulator.helpers import chat_body, find_record, unique

pytestmark = pytest.mark.timeout(30)


def test_generation_without_a_key_is_unauthorized(anon):
    response = anon.get("/text/hi")
    assert response.status_code == 401
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "UNAUTHORIZED"
    assert "?key=" in body["error"]["message"]


def test_an_unknown_key_gets_a_distinct_message(anon):
    response = anon.get("/text/hi", headers={"Authorization": "Bearer sk_wrong"})
    assert response.status_code == 401
    assert response.json()["error"]["message"].startswith("Invalid API key")


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        ({"Authorization": f"Bearer {SECRET_KEY}"}, {}),
        ({"X-API-Key": SECRET_KEY}, {}),
        ({}, {"key": SECRET_KEY}),
    ],
    ids=["bearer", "x-api-key", "query"],
)
def test_keys_are_accepted_from_every_transport(anon, headers, params):
    assert anon.get("/text/hi", headers=headers, params=params).status_code == 200


def test_the_bearer_prefix_is_case_sensitive(anon):
    assert anon.get("/text/hi", headers={"Authorization": f"bearer {SECRET_KEY}"}).status_code == 401


def test_publishable_keys_are_accepted(anon):
    assert anon.get("/text/hi", params={"key": PUBLISHABLE_KEY}).status_code == 200


def test_a_restricted_key_is_refused_other_models(anon):
    headers = {"Authorization": f"Bearer {RESTRICTED_KEY}"}
    response = anon.post("/v1/chat/completions", json={**chat_body("hi"), "model": "mistral"}, headers=headers)
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "Model 'mistral' is not allowed for this API key"


def test_a_restricted_key_may_use_its_models(anon):
    headers = {"Authorization": f"Bearer {RESTRICTED_KEY}"}
    assert anon.post("/v1/chat/completions", json=chat_body("hi"), headers=headers).status_code == 200


@pytest.mark.parametrize("path", ["/v1/audio/speech", "/v1/audio/transcriptions", "/v1/images/generations"])
def test_openai_media_endpoints_need_a_key(anon, path):
    assert anon.post(path, json={}).status_code == 401


def test_legacy_hosts_allow_anonymous_use(anon):
    assert anon.get("/legacy/text/hi").status_code == 200
    assert anon.get(f"/legacy/image/prompt/{unique()}?width=16&height=16").status_code == 200


def test_legacy_token_from_query_sets_the_tier(anon):
    data = anon.post("/legacy/text/openai", json=chat_body("hi"), params={"token": "flower_x"}).json()
    assert data["user_tier"] == "flower"


def test_legacy_token_from_authorization_header(anon):
    data = anon.post("/legacy/text/openai", json=chat_body("hi"), headers={"Authorization": "Bearer tok"}).json()
    assert data["user_tier"] == "seed"


def test_legacy_token_from_the_body(anon):
    data = anon.post("/legacy/text/openai", json=chat_body("hi", token="nectar_y")).json()
    assert data["user_tier"] == "nectar"


def test_credentials_are_redacted_in_the_request_log(anon, simulator_url):
    marker = unique("redact")
    anon.get(
        "/text/hi",
        params={"key": SECRET_KEY},
        headers={"x-test-id": marker, "X-API-Key": SECRET_KEY},
    )
    record = find_record(simulator_url, marker)
    assert SECRET_KEY not in str(record)
    assert record["headers"]["x-api-key"].startswith("fp:")
    assert "key=fp%3A" in record["query"]
