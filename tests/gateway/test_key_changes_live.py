"""Key edits and organisation deactivation, made through the management API, reach the hot path of a gateway process.

The edit is made over HTTP on the running gateway and takes effect on its ``/v1`` within seconds,
as revocation does, through the shared key cache (Redis).
"""

from __future__ import annotations

import time

import httpx
import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.services import api_key_create, membership_add
from tests.accounts.factories import user_create_for_tests
from tests.conftest import require_env
from tests.fixtures.gateway_server import database_url_of_test_db, gateway_env, run_gateway

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CHAT = {"model": "openai", "messages": [{"role": "user", "content": "Hello"}]}
IMAGE = {"model": "flux", "prompt": "a lighthouse", "size": "256x256"}
EFFECTIVE_WITHIN_SECONDS = 10


@pytest.fixture
def live(gateway_settings, upstream_url, organization):
    settings = gateway_settings
    require_env("REDIS_URL")
    owner = user_create_for_tests(email="owner@example.com")
    membership_add(organization=organization, user=owner, role="owner")
    key, raw = api_key_create(organization=organization, name="edited", scopes=("text", "image"))
    # The same SECRET_KEY, so the gateway accepts the owner's JWT minted here.
    env = gateway_env(
        database_name=None,
        upstream_url=upstream_url,
        DATABASE_URL=database_url_of_test_db(),
        SECRET_KEY=settings.SECRET_KEY,
    )
    with run_gateway(env) as url:
        token = RefreshToken.for_user(owner).access_token
        with (
            httpx.Client(base_url=url, headers={"Authorization": f"Bearer {raw}"}, timeout=30) as v1,
            httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as api,
        ):
            yield v1, api, key


def _eventually(check) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < EFFECTIVE_WITHIN_SECONDS, "the change never reached the hot path"
        time.sleep(0.2)
    return time.monotonic() - started


def test_narrowing_a_keys_scopes_is_enforced_by_the_running_gateway(live):
    v1, api, key = live
    assert v1.post("/v1/images/generations", json=IMAGE).status_code == 200
    edited = api.patch(f"/api/orgs/acme/keys/{key.pk}", json={"scopes": ["text"]})
    assert edited.status_code == 200, edited.text
    _eventually(lambda: v1.post("/v1/images/generations", json=IMAGE).status_code == 403)
    assert v1.post("/v1/chat/completions", json=CHAT).status_code == 200  # same secret, still valid for text


def test_deactivating_the_organisation_refuses_its_keys_on_the_running_gateway(live):
    v1, api, _ = live
    assert v1.post("/v1/chat/completions", json=CHAT).status_code == 200
    assert api.patch("/api/orgs/acme", json={"is_active": False}).status_code == 200
    _eventually(lambda: v1.post("/v1/chat/completions", json=CHAT).status_code == 401)


def test_a_persons_jwt_is_not_a_credential_on_v1(live):
    _, api, _ = live
    response = api.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 401
