"""An organisation with no subscription is held to the default plan (BILLING_DEFAULT_PLAN), when one is set."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from tests.billing.conftest import CHAT
from tests.gateway.conftest import upstream_requests

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def default_plan(gateway_settings, make_plan):
    gateway_settings.BILLING_DEFAULT_PLAN = "free"
    return make_plan(
        "free", requests_per_minute=2, allowed_models=["openai", "flux"], overage_policy="bill", image_quota=50
    )


async def test_an_organisation_nobody_subscribed_gets_the_default_plan_s_limits(client, default_plan):
    statuses = [(await client.post("/v1/chat/completions", json=CHAT)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


async def test_the_default_plan_s_models_are_the_only_ones_allowed(client, default_plan):
    response = await client.post("/v1/chat/completions", json={**CHAT, "model": "mistral"})
    assert response.status_code == 403, response.text
    info = (await client.get("/v1/key/info")).json()
    assert info["plan"]["slug"] == "free"
    assert [(quota["name"], quota["limit"]) for quota in info["quotas"]] == [("Images", 50)]


async def test_a_subscription_s_own_plan_applies_instead(client, default_plan, make_plan, subscribe):
    await sync_to_async(subscribe)(await sync_to_async(make_plan)("pro", overage_policy="bill"))
    statuses = [
        (await client.post("/v1/chat/completions", json={**CHAT, "model": "mistral"})).status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 200]


async def test_a_default_plan_that_does_not_exist_refuses_rather_than_waves_through(client, gateway_settings, upstream):
    gateway_settings.BILLING_DEFAULT_PLAN = "no-such-plan"
    response = await client.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "plan_unavailable"
    assert not upstream_requests(upstream, "/v1/chat/completions")


async def test_without_a_default_plan_an_organisation_with_no_subscription_is_not_limited_by_a_plan(client):
    statuses = [(await client.post("/v1/chat/completions", json=CHAT)).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]


async def test_a_default_plan_that_blocks_at_zero_credits_refuses_an_organisation_without_credits(
    client, gateway_settings, make_plan
):
    gateway_settings.BILLING_DEFAULT_PLAN = "prepaid"
    await sync_to_async(make_plan)("prepaid")  # overage blocked: credits first
    response = await client.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 402, response.text
