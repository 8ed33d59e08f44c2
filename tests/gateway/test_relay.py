"""The relay: what the client receives of an upstream answer, and what it is charged for, however the answer ends.

Each test hands :func:`gateway.relay.relay` an upstream answer held in memory (a real
:class:`UpstreamResponse` whose body is an async iterator) and collects the :class:`Outcome` it
reports to ``delivered``.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

import pytest

from gateway.dispatch import reset_breakers
from gateway.relay import CHARS_PER_TOKEN, prompt_characters, relay, usage_of
from plugins.builtin.openai_compatible import usage_from_answer
from plugins.errors import UpstreamError
from plugins.types import Outcome, Provider, ProviderCall, ProviderSettings, UpstreamResponse, Usage

PROMPT = "Say hi to the twelve people in this room."  # 41 characters → 11 tokens counted
CHUNK = b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hello"}}]}\n\n'
STOP = b'data: {"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
USAGE = b'data: {"id":"c1","choices":[],"usage":{"prompt_tokens":17,"completion_tokens":5,"total_tokens":22}}\n\n'
DONE = b"data: [DONE]\n\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


class ReportingProvider(Provider):
    """A provider that reads usage the way the OpenAI-compatible providers do (headers or a ``usage`` object)."""

    kind: ClassVar[str] = "relay-test"

    def usage(self, call: ProviderCall, status: int, headers: list[tuple[str, str]], body_tail: bytes) -> Usage | None:
        return usage_from_answer(call, headers, body_tail)


class SilentProvider(Provider):
    """A provider whose upstream never reports usage."""

    kind: ClassVar[str] = "relay-test-silent"


class CrashingProvider(Provider):
    kind: ClassVar[str] = "relay-test-crashing"

    def usage(self, call: ProviderCall, status: int, headers: list[tuple[str, str]], body_tail: bytes) -> Usage | None:
        raise KeyError("usage")


def provider(cls: type[Provider] = ReportingProvider) -> Provider:
    return cls(ProviderSettings(name=cls.kind, kind=cls.kind, base_url=""))


class Upstream:
    """An upstream answer in memory: its chunks, then a clean end, a break, or silence until it is closed."""

    def __init__(self, chunks: list[bytes], *, then: str = "end", content_type: str = "text/event-stream") -> None:
        self.chunks = chunks
        self.then = then
        self.closes = 0
        self._closed = asyncio.Event()
        self.response = UpstreamResponse(200, content_type, [], self._body(), self._close)

    async def _body(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.then == "break":
            raise UpstreamError("The upstream provider broke off the answer.")
        if self.then == "hang":
            await self._closed.wait()
            raise UpstreamError("The upstream provider broke off the answer.")

    async def _close(self) -> None:
        self.closes += 1
        self._closed.set()


def chat(*, stream: bool = True, deadline: float = 0.0) -> ProviderCall:
    return ProviderCall(
        operation="chat",
        model="openai",
        modality="text",
        request_id="req-1",
        payload={"model": "openai", "messages": [{"role": "user", "content": PROMPT}], "stream": stream},
        stream=stream,
        deadline=deadline,
    )


def image() -> ProviderCall:
    return ProviderCall(
        operation="image", model="flux", modality="image", request_id="req-2", payload={"prompt": "a cat"}
    )


class Delivered(list[Outcome]):
    """The ``delivered`` callback: every outcome the relay reported, in order."""

    def __call__(self, outcome: Outcome) -> None:
        self.append(outcome)


@pytest.fixture(autouse=True)
def _closed_circuits() -> Iterator[None]:
    # A broken stream counts against its provider's breaker: leave no failure streak behind.
    yield
    reset_breakers()


async def run(
    upstream: Upstream,
    call: ProviderCall,
    *,
    sse: bool = True,
    of: Provider | None = None,
    **options: Any,
) -> tuple[bytes, Delivered]:
    delivered = Delivered()
    body = relay(
        upstream.response,
        provider=of or provider(),
        call=call,
        delivered=delivered,
        started=time.perf_counter(),
        sse=sse,
        **options,
    )
    received = b"".join([chunk async for chunk in body])
    return received, delivered


async def read_into(received: list[bytes], body: AsyncIterator[bytes]) -> None:
    async for chunk in body:
        received.append(chunk)


def events(received: bytes) -> list[bytes]:
    return [event + b"\n\n" for event in received.split(b"\n\n") if event]


async def test_a_complete_answer_is_relayed_event_by_event_and_charged_the_upstreams_usage():
    upstream = Upstream([CHUNK, STOP + USAGE[:30], USAGE[30:] + DONE])

    received, delivered = await run(upstream, chat())

    assert received == CHUNK + STOP + USAGE + DONE
    [outcome] = delivered
    assert outcome.status == 200
    assert outcome.usage == Usage(input_tokens=17, output_tokens=5, source="upstream")
    assert upstream.closes >= 1


async def test_the_usage_event_asked_for_on_the_clients_behalf_is_not_relayed_but_still_charged():
    received, delivered = await run(Upstream([CHUNK, STOP, USAGE, DONE]), chat(), strip_usage_event=True)

    assert received == CHUNK + STOP + DONE
    assert delivered[0].usage == Usage(input_tokens=17, output_tokens=5)


async def test_a_stream_that_breaks_midway_ends_with_an_error_event_and_is_charged_for_the_relayed_text_only():
    received, delivered = await run(Upstream([CHUNK, CHUNK], then="break"), chat())

    *relayed, last = events(received)
    assert relayed == [CHUNK, CHUNK]
    error = json.loads(last.removeprefix(b"data: "))["error"]
    assert error["code"] == "upstream_error"
    assert b"[DONE]" not in received
    [outcome] = delivered
    assert outcome.status == 502
    # Two events of "hello" relayed: 10 characters → 3 tokens; the prompt counted the same way.
    assert outcome.usage == Usage(
        input_tokens=math.ceil(len(PROMPT) / CHARS_PER_TOKEN), output_tokens=3, source="counted"
    )


async def test_a_broken_event_is_not_relayed_and_ends_the_stream_with_an_error_event():
    received, delivered = await run(Upstream([CHUNK, b'data: {"choices":[{"delta":\n\n', STOP, DONE]), chat())

    first, last = events(received)
    assert first == CHUNK
    assert json.loads(last.removeprefix(b"data: "))["error"]["code"] == "upstream_error"
    assert delivered[0].status == 502
    assert delivered[0].usage is not None and delivered[0].usage.source == "counted"


async def test_a_stream_that_breaks_before_any_text_is_charged_nothing():
    received, delivered = await run(Upstream([], then="break"), chat())

    assert b'"error"' in received
    assert delivered[0].usage is None


async def test_an_image_that_breaks_off_is_cut_and_charged_nothing():
    upstream = Upstream([PNG[:100], PNG[100:300]], then="break", content_type="image/png")
    received: list[bytes] = []
    delivered = Delivered()
    body = relay(
        upstream.response,
        provider=provider(),
        call=image(),
        delivered=delivered,
        started=time.perf_counter(),
        sse=False,
    )

    with pytest.raises(UpstreamError):
        await read_into(received, body)

    assert b"".join(received) == PNG[:300]  # no error text appended to a truncated file
    [outcome] = delivered
    assert outcome.status == 502
    assert outcome.usage is None
    assert upstream.closes >= 1


async def test_a_whole_image_is_relayed_byte_for_byte_and_charged_one_image():
    received, delivered = await run(Upstream([PNG[:10], PNG[10:]], content_type="image/png"), image(), sse=False)

    assert received == PNG
    assert delivered[0].usage == Usage(images=1)


async def test_a_client_that_closes_the_stream_is_reported_once_as_499_and_the_upstream_is_closed():
    upstream = Upstream([CHUNK, CHUNK, STOP, DONE])
    delivered = Delivered()
    body = relay(
        upstream.response, provider=provider(), call=chat(), delivered=delivered, started=time.perf_counter(), sse=True
    )

    assert await anext(body) == CHUNK
    await body.aclose()

    [outcome] = delivered
    assert outcome.status == 499
    assert outcome.usage is not None and outcome.usage.output_tokens == math.ceil(len("hello") / CHARS_PER_TOKEN)
    assert upstream.closes >= 1


async def test_on_complete_receives_the_whole_body_when_it_fits():
    kept: list[bytes | None] = []
    await run(Upstream([CHUNK, STOP, DONE]), chat(), on_complete=kept.append, keep_body_up_to=10_000)

    assert kept == [CHUNK + STOP + DONE]


async def test_on_complete_receives_none_when_the_body_outgrew_the_limit():
    kept: list[bytes | None] = []
    body = CHUNK + STOP + DONE
    await run(Upstream([CHUNK, STOP, DONE]), chat(), on_complete=kept.append, keep_body_up_to=len(body) - 1)

    assert kept == [None]


async def test_on_complete_is_not_called_for_an_answer_that_broke():
    kept: list[bytes | None] = []
    await run(Upstream([CHUNK], then="break"), chat(), on_complete=kept.append, keep_body_up_to=10_000)

    assert kept == []


async def test_the_deadline_closes_a_silent_upstream_with_an_upstream_timeout_event():
    deadline = asyncio.get_running_loop().time() + 0.05
    upstream = Upstream([CHUNK], then="hang")

    received, delivered = await asyncio.wait_for(run(upstream, chat(deadline=deadline)), timeout=3)

    first, last = events(received)
    assert first == CHUNK
    assert json.loads(last.removeprefix(b"data: "))["error"]["code"] == "upstream_timeout"
    [outcome] = delivered
    assert outcome.status == 504
    assert upstream.closes >= 1


# --- usage_of, prompt_characters and the counted estimate ---------------------------------------------


def upstream_of(headers: list[tuple[str, str]] | None = None) -> UpstreamResponse:
    async def nothing() -> AsyncIterator[bytes]:
        return
        yield b""

    async def close() -> None:
        return None

    return UpstreamResponse(200, "application/json", headers or [], nothing(), close)


def test_usage_of_prefers_what_the_upstream_reported():
    tail = b'{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2}}'

    assert usage_of(provider(), chat(), upstream_of(), tail, counted_chars=4000) == Usage(7, 2)


@pytest.mark.parametrize("provider_class", [SilentProvider, CrashingProvider])
def test_usage_of_counts_about_four_characters_per_token_when_the_upstream_reports_none(provider_class):
    usage = usage_of(provider(provider_class), chat(), upstream_of(), b"", counted_chars=9)

    assert usage == Usage(input_tokens=math.ceil(len(PROMPT) / 4), output_tokens=3, source="counted")


@pytest.mark.parametrize(("characters", "tokens"), [(1, 1), (4, 1), (5, 2), (400, 100)])
def test_the_counted_estimate_rounds_up_so_text_is_never_free(characters, tokens):
    usage = usage_of(provider(SilentProvider), chat(), upstream_of(), b"", counted_chars=characters)

    assert usage is not None and usage.output_tokens == tokens


def test_media_the_upstream_reports_nothing_for_is_not_estimated_from_characters():
    assert usage_of(provider(SilentProvider), image(), upstream_of(), b"", counted_chars=5000) is None


def test_prompt_characters_count_the_text_of_messages_not_their_json():
    payload = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/" + "x" * 500}},
                    {"type": "text", "text": "this."},
                ],
            },
            "not a message",
            {"role": "assistant", "content": None},
        ]
    }

    assert prompt_characters(payload) == len("Be brief.") + len("Describe") + len("this.")


@pytest.mark.parametrize("payload", [None, {}, {"messages": None}, {"prompt": "a cat"}])
def test_prompt_characters_of_a_call_without_messages_is_zero(payload):
    assert prompt_characters(payload) == 0
