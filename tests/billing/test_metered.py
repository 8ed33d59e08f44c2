"""``billing.hotpath.metered()``: a request's billing from admission to settlement, settled exactly once
however the block ends — real stores (embedded, or Redis with REDIS_URL) and the real ledger."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from accounts.keyauth import resolve_api_key
from billing import hotpath
from billing._stores import HOLDS_KEY
from billing.models import Price
from core.errors import HttpError
from plugins.registry import get_registry
from plugins.types import Outcome, ProviderCall, Usage
from tests.billing.conftest import ledger_events, settle_and_flush

PRICE_PER_IMAGE = 1_000


class Reports(list):
    """A reporter that keeps what it was told."""

    def __call__(self, *, call, caller, outcome) -> None:
        self.append(outcome)


@pytest.fixture
async def priced(transactional_db):
    await sync_to_async(Price.objects.create)(model="flux", per_image=PRICE_PER_IMAGE)


async def _image_call(api_key: str, request_id: str):
    identity = await resolve_api_key(api_key)
    route = (await get_registry()).routes("flux", "image")[0]
    call = ProviderCall("image", "flux", "image", request_id, payload={"prompt": "a lighthouse"})
    return call, identity, route.provider


async def _holds_left() -> int:
    store = hotpath.redis_store()
    if store is None:
        return len(hotpath.local_store().holds)
    client = store.client()
    return await client.hlen(HOLDS_KEY)


async def _rows(request_id: str):
    await settle_and_flush()
    return await ledger_events(client_request_id=request_id)


async def test_what_the_block_charges_is_billed_once_and_reported_once(gateway_settings, api_key, priced):
    call, identity, provider = await _image_call(api_key, "metered-charge")
    reports = Reports()
    async with hotpath.metered(call=call, identity=identity, provider=provider, reporter=reports) as meter:
        assert await _holds_left() == 1
        meter.charge(Outcome(provider.name, 200, Usage(images=1)))
    [row] = await _rows("metered-charge")
    assert (row.status, row.cost, row.images) == (200, PRICE_PER_IMAGE, 1)
    assert [outcome.status for outcome in reports] == [200]
    assert await _holds_left() == 0


async def test_a_block_that_raises_is_settled_as_abandoned_with_the_errors_status(gateway_settings, api_key, priced):
    call, identity, provider = await _image_call(api_key, "metered-error")
    reports = Reports()
    with pytest.raises(HttpError):
        async with hotpath.metered(call=call, identity=identity, provider=provider, reporter=reports):
            raise HttpError(502, "The upstream broke.", type="upstream_error", code="upstream_error")
    [row] = await _rows("metered-error")
    assert (row.status, row.cost) == (502, 0)
    assert [outcome.status for outcome in reports] == [502]
    assert await _holds_left() == 0


async def test_an_unexpected_error_is_settled_as_a_500_and_still_raised(gateway_settings, api_key, priced):
    call, identity, provider = await _image_call(api_key, "metered-bug")
    with pytest.raises(ZeroDivisionError):
        async with hotpath.metered(call=call, identity=identity, provider=provider):
            _ = 1 / 0
    [row] = await _rows("metered-bug")
    assert (row.status, row.cost) == (500, 0)
    assert await _holds_left() == 0


async def test_a_cancelled_block_is_settled_as_the_client_leaving(gateway_settings, api_key, priced):
    call, identity, provider = await _image_call(api_key, "metered-cancel")
    inside = asyncio.Event()

    async def wait_for_upstream() -> None:
        async with hotpath.metered(call=call, identity=identity, provider=provider):
            inside.set()
            await asyncio.sleep(60)

    task = asyncio.ensure_future(wait_for_upstream())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [row] = await _rows("metered-cancel")
    assert (row.status, row.cost) == (499, 0)
    assert await _holds_left() == 0


async def test_a_closed_stream_keeps_what_the_relay_said_it_delivered(gateway_settings, api_key, priced):
    call, identity, provider = await _image_call(api_key, "metered-stream")

    async def body():
        async with hotpath.metered(call=call, identity=identity, provider=provider) as meter:
            try:
                yield b"part"
                yield b"never read"
            finally:
                meter.charge(Outcome(provider.name, 499, Usage(images=1)))

    stream = body()
    assert await anext(stream) == b"part"
    await stream.aclose()  # the client left after the first part
    [row] = await _rows("metered-stream")
    assert (row.status, row.cost) == (499, PRICE_PER_IMAGE)
    assert await _holds_left() == 0


async def test_a_refusal_on_entry_holds_nothing_and_never_runs_the_block(
    gateway_settings, api_key, make_plan, subscribe, priced
):
    await sync_to_async(subscribe)(await sync_to_async(make_plan)(requests_per_minute=1, overage_policy="bill"))
    call, identity, provider = await _image_call(api_key, "metered-refused")
    async with hotpath.metered(call=call, identity=identity, provider=provider) as meter:
        meter.charge(Outcome(provider.name, 200, Usage(images=1)))
    ran = False
    with pytest.raises(HttpError) as refused:
        async with hotpath.metered(call=call, identity=identity, provider=provider):
            ran = True
    assert refused.value.status == 429
    assert not ran
    assert len(await _rows("metered-refused")) == 1
    assert await _holds_left() == 0


async def test_a_released_block_bills_and_reports_nothing(gateway_settings, api_key, priced):
    call, identity, provider = await _image_call(api_key, "metered-release")
    reports = Reports()
    async with hotpath.metered(call=call, identity=identity, provider=provider, reporter=reports) as meter:
        meter.release(200)
    [row] = await _rows("metered-release")
    assert row.cost == 0
    assert reports == []
    assert await _holds_left() == 0


async def test_a_job_attempt_is_charged_under_the_jobs_id_and_abandoned_under_its_own(
    gateway_settings, api_key, priced
):
    call, identity, provider = await _image_call(api_key, "metered-job")
    async with hotpath.metered(
        call=call, identity=identity, provider=provider, ledger_id="job-7-1", charge_id="job-7"
    ) as meter:
        meter.charge(Outcome(provider.name, 200, Usage(images=1)))
    with pytest.raises(HttpError):
        async with hotpath.metered(
            call=call, identity=identity, provider=provider, ledger_id="job-8-1", charge_id="job-8"
        ):
            raise HttpError(502, "The upstream broke.", type="upstream_error")
    rows = {row.request_id: (row.status, row.cost) for row in await _rows("metered-job")}
    assert rows == {"job-7": (200, PRICE_PER_IMAGE), "job-8-1": (502, 0)}
    assert await _holds_left() == 0


async def _overlaps(api_key: str, count: int, prefix: str) -> list[bool]:
    """For ``count`` requests in a row: whether each one's admission let work start alongside it."""
    overlapped = []
    for i in range(count):
        call, identity, provider = await _image_call(api_key, f"{prefix}-{i}")
        started: list[bool] = []
        try:
            async with hotpath.metered(
                call=call, identity=identity, provider=provider, overlap=lambda started=started: started.append(True)
            ) as meter:
                meter.charge(Outcome(provider.name, 200, Usage(images=1)))
        except HttpError:
            pass
        overlapped.append(bool(started))
    return overlapped


async def test_the_upstream_call_overlaps_the_admission_only_after_an_admission_that_left_ample_room(
    gateway_settings, amake_key, priced
):
    # Six a minute: ample room (at least four left) after the first two admissions, not after.
    limited = await amake_key(limits={"requests_per_minute": 6})
    overlapped = await _overlaps(limited, 7, "roomy")
    if hotpath.redis_store() is None:
        # Embedded, the admission makes no round trip: nothing to overlap.
        assert overlapped == [False] * 7
    else:
        assert overlapped == [False, True, True, False, False, False, False]


async def test_a_refusal_stops_the_overlap_until_an_admission_leaves_room_again(gateway_settings, api_key, priced):
    if hotpath.redis_store() is None:
        pytest.skip("the overlap needs the shared store's round trip (REDIS_URL)")
    assert await _overlaps(api_key, 2, "before") == [False, True]
    identity = await resolve_api_key(api_key)
    hotpath.admission_refused(identity.key_id)  # what a refusal does
    assert await _overlaps(api_key, 2, "after") == [False, True]


async def test_an_organisation_short_of_credits_never_overlaps(gateway_settings, api_key, priced, make_plan, subscribe):
    if hotpath.redis_store() is None:
        pytest.skip("the overlap needs the shared store's round trip (REDIS_URL)")
    # Credits enforced, for 50 images: fewer than the 100 requests' worth that count as ample.
    plan = await sync_to_async(make_plan)(included_credits=50 * PRICE_PER_IMAGE, overage_policy="block")
    await sync_to_async(subscribe)(plan)
    assert await _overlaps(api_key, 3, "short") == [False, False, False]
