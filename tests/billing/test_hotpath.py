"""Limits, credits and the ledger through the real gateway (embedded stores, or Redis with REDIS_URL)."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from billing import hotpath
from billing._stores import credit_key
from billing.models import CreditAccount, Price
from plugins import registry
from plugins.http import POOL_SIZE
from tests.billing.conftest import CHAT, ledger_events, settle_and_flush


async def test_requests_over_the_plan_rate_are_refused_with_429_and_retry_after(client, make_plan, subscribe):
    await sync_to_async(subscribe)(await sync_to_async(make_plan)(requests_per_minute=3, overage_policy="bill"))
    answers = [await client.post("/v1/chat/completions", json=CHAT) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"


async def test_successful_answers_carry_the_rate_limit_headers(client, make_plan, subscribe):
    await sync_to_async(subscribe)(await sync_to_async(make_plan)(requests_per_minute=10, overage_policy="bill"))
    first = await client.post("/v1/chat/completions", json=CHAT)
    second = await client.post("/v1/chat/completions", json={**CHAT, "stream": True})
    assert first.headers["x-ratelimit-limit-requests"] == "10"
    assert first.headers["x-ratelimit-remaining-requests"] == "9"
    assert second.headers["x-ratelimit-remaining-requests"] == "8"
    assert first.headers["x-ratelimit-reset-requests"].endswith("s")


async def test_a_per_key_override_limits_that_key_only(client, amake_key, make_plan, subscribe):
    limited = await amake_key(limits={"requests_per_minute": 1})
    headers = {"Authorization": f"Bearer {limited}"}
    assert (await client.post("/v1/chat/completions", json=CHAT, headers=headers)).status_code == 200
    assert (await client.post("/v1/chat/completions", json=CHAT, headers=headers)).status_code == 429
    assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200


async def test_a_request_over_quota_is_refused_before_any_upstream_call(client, upstream, make_plan, subscribe):
    await sync_to_async(subscribe)(await sync_to_async(make_plan)(token_quota=1, overage_policy="bill"))
    assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200
    await settle_and_flush()
    upstream.delete("/_sim/requests")
    refused = await client.post("/v1/chat/completions", json=CHAT)
    assert refused.status_code == 429
    assert "tokens quota" in refused.json()["error"]["message"]
    assert upstream.get("/_sim/requests").json()["requests"] == []


async def test_out_of_credits_is_a_402_with_a_clear_message(client, make_plan, subscribe, organization):
    await sync_to_async(Price.objects.create)(model="flux", per_image=1_000_000)
    await sync_to_async(subscribe)(await sync_to_async(make_plan)(included_credits=2_000_000))
    body = {"model": "flux", "prompt": "a cat"}
    answers = [await client.post("/v1/images/generations", json=body) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 402]
    error = answers[-1].json()["error"]
    assert (error["type"], error["code"]) == ("insufficient_quota", "insufficient_credits")
    assert "credits" in error["message"]
    await settle_and_flush()
    account = await sync_to_async(CreditAccount.objects.get)(organization=organization)
    assert account.balance == 0
    assert sum(e.cost for e in await ledger_events()) == 2_000_000


async def test_every_request_is_one_ledger_event_failures_included(client, make_plan, subscribe):
    await sync_to_async(subscribe)(await sync_to_async(make_plan)(overage_policy="bill"))
    ok = await client.post("/v1/chat/completions", json=CHAT)
    failed = await client.post("/v1/chat/completions", json=CHAT, headers={"X-Sim-Fault": "status=400"})
    await settle_and_flush()
    events = await ledger_events()
    assert [e.status for e in events] == [200, failed.status_code]
    assert events[0].client_request_id == ok.headers["x-request-id"]
    assert events[0].input_tokens > 0 and events[0].cost > 0
    assert events[0].usage_source == "upstream"


async def test_a_cancelled_subscription_is_refused_with_402(client, make_plan, subscribe):
    subscription = await sync_to_async(subscribe)(await sync_to_async(make_plan)())
    subscription.status = "cancelled"
    await subscription.asave()
    answer = await client.post("/v1/chat/completions", json=CHAT)
    assert answer.status_code == 402
    assert answer.json()["error"]["code"] == "subscription_inactive"


async def test_a_model_outside_the_plan_is_refused(client, make_plan, subscribe):
    await sync_to_async(subscribe)(await sync_to_async(make_plan)(allowed_models=["mistral"], overage_policy="bill"))
    assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 403


@pytest.mark.parametrize("limit", [2])
async def test_concurrent_requests_over_the_limit_are_refused(client, make_plan, subscribe, limit):
    import asyncio

    await sync_to_async(subscribe)(await sync_to_async(make_plan)(concurrent_requests=limit, overage_policy="bill"))
    slow = {"X-Sim-Fault": "latency=400ms"}
    answers = await asyncio.gather(*(client.post("/v1/chat/completions", json=CHAT, headers=slow) for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [200] * limit + [429] * (4 - limit)
    await settle_and_flush()
    # The slots were released: the next request gets in.
    assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200


async def test_a_provider_limit_protects_the_upstream_across_organisations(client, amake_key, transactional_db):
    from billing.models import ProviderLimit
    from plugins.registry import get_registry

    provider = (await get_registry()).routes("openai", "chat")[0].provider.name
    await sync_to_async(ProviderLimit.objects.create)(provider=provider, requests_per_minute=2)
    other = {"Authorization": f"Bearer {await amake_key()}"}
    assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200
    assert (await client.post("/v1/chat/completions", json=CHAT, headers=other)).status_code == 200
    refused = await client.post("/v1/chat/completions", json=CHAT, headers=other)
    assert refused.status_code == 429
    assert "provider allows 2 requests" in refused.json()["error"]["message"]


async def test_the_plan_limits_each_member_separately(client, amake_key, make_plan, subscribe, organization):
    from accounts.models import User
    from accounts.services import membership_add

    def member(email: str):
        user = User.objects.create_user(email=email, password="a long enough password")
        membership_add(organization=organization, user=user, role="developer")
        return user

    ada, bob = [await sync_to_async(member)(e) for e in ("ada@example.com", "bob@example.com")]
    await sync_to_async(subscribe)(await sync_to_async(make_plan)(user_requests_per_minute=1, overage_policy="bill"))
    ada_key = {"Authorization": f"Bearer {await amake_key(created_by=ada, enforce_role=False)}"}
    bob_key = {"Authorization": f"Bearer {await amake_key(created_by=bob, enforce_role=False)}"}
    assert (await client.post("/v1/chat/completions", json=CHAT, headers=ada_key)).status_code == 200
    assert (await client.post("/v1/chat/completions", json=CHAT, headers=ada_key)).status_code == 429
    assert (await client.post("/v1/chat/completions", json=CHAT, headers=bob_key)).status_code == 200


async def test_a_stream_whose_upstream_reports_no_usage_is_counted_not_free(client, make_plan, subscribe):
    await sync_to_async(subscribe)(await sync_to_async(make_plan)(overage_policy="bill"))
    # The upstream breaks off after two content events: its usage chunk never comes.
    broken = {"X-Sim-Fault": "drop-mid-stream"}
    answer = await client.post("/v1/chat/completions", json={**CHAT, "stream": True}, headers=broken)
    assert answer.status_code == 200
    await settle_and_flush()
    event = (await ledger_events())[0]
    # The relay's own count (~4 characters per token) is billed, and marked as counted.
    assert (event.status, event.usage_source) == (502, "counted")
    assert event.input_tokens > 0 and event.output_tokens > 0 and event.cost > 0


async def test_a_transcription_is_billed_for_the_audio_seconds_the_upstream_measured(client, make_plan, subscribe):
    await sync_to_async(subscribe)(await sync_to_async(make_plan)(overage_policy="bill"))
    await sync_to_async(Price.objects.create)(model="whisper-1", per_audio_second=1_000)
    speech = await client.post("/v1/audio/speech", json={"input": "the quick brown fox", "response_format": "wav"})
    answer = await client.post(
        "/v1/audio/transcriptions",
        files={"file": ("speech.wav", speech.content, "audio/wav")},
        data={"model": "whisper-1"},
        headers={"X-Request-ID": "transcription-billed"},
    )
    assert answer.status_code == 200, answer.text
    await settle_and_flush()
    [row] = await ledger_events(client_request_id="transcription-billed")
    assert row.audio_seconds > 0
    assert row.cost == round(row.audio_seconds * 1_000)


async def test_a_call_started_alongside_an_admission_that_then_refuses_is_stopped_and_costs_nothing(
    client, upstream, make_plan, subscribe, organization
):
    store = hotpath.redis_store()
    if store is None:
        pytest.skip("the overlap needs the shared store's round trip (REDIS_URL)")
    plan = await sync_to_async(make_plan)(included_credits=10**12, overage_policy="block")
    await sync_to_async(subscribe)(plan)
    slow = {**CHAT, "stream": True}
    assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200  # leaves ample room
    await settle_and_flush()
    # Then the credits run out elsewhere (another replica), before this process hears of it.
    await store.client().hset(credit_key(organization.id), "used", 10**12)
    refused = await client.post("/v1/chat/completions", json=slow, headers={"X-Sim-Fault": "latency=300ms"})
    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "insufficient_credits"
    sent = upstream.get("/_sim/requests").json()["requests"]
    assert len(sent) == 2, "the refused call had been started alongside its admission"
    await asyncio.sleep(0.1)
    [provider] = [p for p in registry.current_registry().providers if p.name == "pollinations-text"]
    pool = provider.pool.session()
    assert pool._slots._value == POOL_SIZE, "the stopped call gave its connection back"
    await settle_and_flush()
    assert [e.status for e in await ledger_events(organization_id=organization.id)] == [200], "a refusal holds nothing"
    balance = await store.client().hgetall(credit_key(organization.id))
    assert (int(balance[b"used"]), int(balance[b"held"])) == (10**12, 0)
    assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 402, "no overlap after a refusal"


@pytest.mark.parametrize(("alias", "model"), [("gpt-5-nano", "openai"), ("tts-1", "openai-audio")])
async def test_a_model_named_by_its_alias_is_billed_at_the_models_default_price(
    client, make_plan, subscribe, alias, model
):
    # The built-in prices name the models' ids; a request may name a model by an alias it is routed
    # by (the OpenAI SDK's names): it costs what the model costs, not nothing.
    await sync_to_async(subscribe)(await sync_to_async(make_plan)(overage_policy="bill"))
    path, body = (
        ("/v1/chat/completions", {**CHAT, "messages": [{"role": "user", "content": "the same words"}]})
        if model == "openai"
        else ("/v1/audio/speech", {"input": "the same words", "voice": "nova"})
    )
    for name in (alias, model):
        answer = await client.post(path, json={**body, "model": name}, headers={"X-Request-ID": f"priced-{name}"})
        assert answer.status_code == 200, answer.text
    await settle_and_flush()
    [by_alias] = await ledger_events(client_request_id=f"priced-{alias}")
    [by_id] = await ledger_events(client_request_id=f"priced-{model}")
    assert by_id.cost > 0
    assert by_alias.cost == by_id.cost
