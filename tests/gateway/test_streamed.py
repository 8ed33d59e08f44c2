"""A streamed answer is closed, and its call settled, when its exchange ends — never left to the
garbage collector: read to the end, broken off, or never started."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest

from gateway.streamed import OwnedBody
from plugins import hookimpl, registry
from plugins.registry import get_registry, plugin_manager
from tests.fixtures.asgi import http_scope

pytestmark = pytest.mark.django_db(transaction=True)


class Owner:
    """What a body owns, as an ``AsyncExitStack`` sees it: the exceptions its exit was called with."""

    def __init__(self) -> None:
        self.exits: list[type[BaseException] | None] = []
        self.stack = contextlib.AsyncExitStack()
        self.stack.push_async_exit(self._exit)

    async def _exit(self, kind, exc, tb) -> bool:
        self.exits.append(kind)
        return False


async def _chunks(log: list[str], *, fail_after: int | None = None):
    try:
        for n in range(3):
            if n == fail_after:
                raise ValueError("upstream broke")
            yield b"chunk"
    finally:
        log.append("body closed")


async def test_a_body_read_to_its_end_closes_its_owner_once_with_no_error():
    owner, log = Owner(), []
    body = OwnedBody(_chunks(log), owner.stack)
    assert [chunk async for chunk in body] == [b"chunk"] * 3
    await body.aclose()
    assert (log, owner.exits) == (["body closed"], [None])


async def test_an_error_while_reading_reaches_the_owner_and_the_reader():
    owner, log = Owner(), []
    body = OwnedBody(_chunks(log, fail_after=1), owner.stack)
    with pytest.raises(ValueError, match="upstream broke"):
        async for _ in body:
            pass
    assert (log, owner.exits) == (["body closed"], [ValueError])


async def test_a_body_closed_part_way_tells_its_owner_the_rest_was_not_taken():
    owner, log = Owner(), []
    body = OwnedBody(_chunks(log), owner.stack)
    assert await body.__anext__() == b"chunk"
    await body.aclose()
    await body.aclose()
    assert (log, owner.exits) == (["body closed"], [GeneratorExit])


async def test_a_body_never_started_still_closes_its_owner():
    # A generator never started runs nothing when closed: the owner must not depend on it.
    owner, log = Owner(), []
    body = OwnedBody(_chunks(log), owner.stack)
    await body.aclose()
    assert (log, owner.exits) == ([], [GeneratorExit])


async def test_closing_during_a_read_in_another_task_leaves_the_ending_to_that_read():
    owner, release = Owner(), asyncio.Event()

    async def slow():
        await release.wait()
        yield b"late"

    body = OwnedBody(slow(), owner.stack)
    reader = asyncio.ensure_future(body.__anext__())
    await asyncio.sleep(0)
    await body.aclose()  # the reader is inside the body: closing it now would race the read
    assert owner.exits == []
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    assert owner.exits == [asyncio.CancelledError]


class Outcomes(list):
    @hookimpl
    def mcp_response(self, call, caller, outcome) -> None:
        self.append(outcome.status)


@pytest.fixture
def outcomes():
    recorder = Outcomes()
    plugin_manager().register(recorder)
    yield recorder
    plugin_manager().unregister(recorder)


def _scope(api_key: str) -> dict:
    return http_scope(
        "POST",
        "/v1/chat/completions",
        [(b"authorization", f"Bearer {api_key}".encode()), (b"content-type", b"application/json")],
    )


async def _streamed_chat(api_key: str, send) -> None:
    from mcp_site.asgi import application

    payload = json.dumps({"model": "openai", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    delivered = False

    async def receive() -> dict:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": payload.encode(), "more_body": False}
        await asyncio.Event().wait()  # the client never says it left: only send() fails
        raise AssertionError("unreachable")

    await application(_scope(api_key), receive, send)


async def test_a_stream_whose_client_is_gone_before_it_starts_is_settled_before_the_handler_returns(
    client, api_key, outcomes
):
    async def send(message: dict) -> None:
        raise OSError("the client's connection is gone")

    with pytest.raises(OSError, match="gone"):
        await _streamed_chat(api_key, send)
    # No await since: the settlement did not wait for the response to be collected, and the
    # upstream answer was closed, its provider's lease given back.
    assert outcomes == [499]
    provider = (await get_registry()).routes("openai", "chat")[0].provider
    assert registry.in_flight(provider) == 0


async def test_a_stream_read_to_its_end_is_settled_before_the_handler_returns(client, api_key, outcomes):
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    await _streamed_chat(api_key, send)
    assert sent[0]["status"] == 200 and sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert outcomes == [200]
