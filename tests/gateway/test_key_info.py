"""GET /v1/key/info: the calling key's own settings, its organisation's plan, remaining quotas and credits."""

from __future__ import annotations

import pytest

from billing.models import Plan
from billing.services import credits_grant, subscription_create
from tests.billing.conftest import settle_and_flush

pytestmark = pytest.mark.django_db(transaction=True)

IMAGE = {"model": "flux", "prompt": "a lighthouse", "size": "256x256"}


@pytest.fixture
def planned(organization):
    plan = Plan.objects.create(
        slug="team",
        name="Team",
        requests_per_minute=600,
        concurrent_requests=8,
        image_quota=100,
        overage_policy=Plan.Overage.BLOCK,
    )
    subscription_create(organization=organization, plan=plan)
    credits_grant(organization=organization, amount=5_000_000, reason="test")
    return plan


async def test_a_key_sees_its_own_settings_its_plan_and_what_is_left(planned, client, amake_key):
    key = await amake_key(scopes=("image",), allowed_models=("flux",), limits={"requests_per_minute": 30})
    headers = {"Authorization": f"Bearer {key}"}
    assert (await client.post("/v1/images/generations", json=IMAGE, headers=headers)).status_code == 200
    await settle_and_flush()
    response = await client.get("/v1/key/info", headers=headers)
    assert response.status_code == 200, response.text
    info = response.json()
    assert info["object"] == "key.info"
    assert info["key"]["prefix"] == key[:12]
    assert (info["key"]["organization"], info["key"]["scopes"], info["key"]["allowed_models"]) == (
        "acme",
        ["image"],
        ["flux"],
    )
    assert info["key"]["limits"] == {"requests_per_minute": 30}
    assert info["plan"]["slug"] == "team"
    assert (info["plan"]["requests_per_minute"], info["plan"]["concurrent_requests"]) == (600, 8)
    [images] = [q for q in info["quotas"] if q["name"] == "Images"]
    assert (images["limit"], images["used"], images["remaining"]) == (100, 1, 99)
    assert info["period"]["usage"]["images"] == 1
    assert 0 < info["credit_balance"] < 5_000_000


async def test_key_info_without_a_plan_says_so(client):
    info = (await client.get("/v1/key/info")).json()
    assert (info["plan"], info["quotas"], info["credit_balance"]) == (None, [], None)


async def test_key_info_needs_a_valid_key(anonymous):
    assert (await anonymous.get("/v1/key/info")).status_code == 401
    bad = await anonymous.get("/v1/key/info", headers={"Authorization": "Bearer mgw_nope"})
    assert (bad.status_code, bad.json()["error"]["type"]) == (401, "authentication_error")
    refused = await anonymous.post("/v1/key/info")
    assert (refused.status_code, refused.headers.get("Allow")) == (405, "GET, HEAD")
    assert refused.json()["error"]["code"] == "method_not_allowed"
