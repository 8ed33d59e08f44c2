"""The hot path's handler: how it finds a request's route."""

from __future__ import annotations

import asyncio
import json

import pytest
from django.urls import URLResolver, get_resolver

from core.errors import HttpError
from gateway.handler import Routes
from tests.fixtures.asgi import http_scope


class CountingResolver:
    """The site's real resolver, counting the calls that reach it."""

    def __init__(self, resolver: URLResolver) -> None:
        self.resolver, self.calls = resolver, 0

    def resolve(self, path: str):
        self.calls += 1
        return self.resolver.resolve(path)


def test_a_fixed_path_is_resolved_once_and_matches_as_djangos_resolver_does():
    site = get_resolver()
    counting = CountingResolver(site)
    routes = Routes(counting)  # type: ignore[arg-type]
    first, again = routes.resolve("/v1/chat/completions"), routes.resolve("/v1/chat/completions")
    assert first is not None and again is first
    assert (first.view_name, first.route) == (site.resolve("/v1/chat/completions").view_name, "v1/chat/completions")
    assert counting.calls == 1


def test_a_path_whose_route_captures_from_it_is_resolved_every_time():
    counting = CountingResolver(get_resolver())
    routes = Routes(counting)  # type: ignore[arg-type]
    cat, dog = routes.resolve("/image/a%20cat"), routes.resolve("/image/a%20dog")
    assert cat is not None and dog is not None
    assert (cat.kwargs["prompt"], dog.kwargs["prompt"]) == ("a%20cat", "a%20dog")
    assert routes.resolve("/image/a%20cat").kwargs["prompt"] == "a%20cat"
    assert counting.calls == 3


def test_an_unknown_path_is_none():
    assert Routes(get_resolver("gateway.urls")).resolve("/nothing/here") is None


def test_no_more_than_its_bound_of_paths_is_remembered():
    counting = CountingResolver(get_resolver())
    routes = Routes(counting)  # type: ignore[arg-type]
    routes.MAX_REMEMBERED = 2
    for path in ("/v1/models", "/v1/key/info", "/v1/chat/completions", "/v1/chat/completions"):
        assert routes.resolve(path) is not None
    assert counting.calls == 4  # the third path was not kept: asked again


async def _answer_to_a_body_that_breaks_off(path: str) -> tuple[dict, bytes]:
    """What the ASGI application answers when the server reports the body's end as a disconnect.

    Some servers (granian) do so for a chunked body whose encoding is malformed and for one cut
    short; an application that then answers nothing leaves the server to send its own plain-text 500.
    """
    from mcp_site.asgi import application

    scope = http_scope(
        "POST",
        path,
        [(b"host", b"testserver"), (b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
    )
    parts = [{"type": "http.request", "body": b'{"model": "op', "more_body": True}, {"type": "http.disconnect"}]
    sent: list[dict] = []

    async def receive() -> dict:
        return parts.pop(0) if parts else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    await application(scope, receive, send)
    assert sent, "nothing was answered"
    return sent[0], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/api/auth/login"])
async def test_a_body_that_breaks_off_is_a_400_in_the_error_shape(path):
    start, body = await _answer_to_a_body_that_breaks_off(path)
    assert start["status"] == 400
    error = json.loads(body)["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_request")
    assert "body" in error["message"]


async def test_a_body_that_stops_arriving_is_a_408_not_a_connection_held_forever(monkeypatch):
    """Headers sent, then silence: without a bound the request (and its connection) waits for ever."""
    from gateway import handler

    monkeypatch.setattr(handler, "BODY_IDLE_SECONDS", 0.05)

    async def receive() -> dict:
        if not hasattr(receive, "sent"):
            receive.sent = True  # type: ignore[attr-defined]
            return {"type": "http.request", "body": b'{"model"', "more_body": True}
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    with pytest.raises(HttpError) as refused:
        await asyncio.wait_for(handler.read_body(receive, {b"content-length": b"100"}, 1000), timeout=5)
    assert (refused.value.status, refused.value.code) == (408, "request_timeout")


async def test_a_slow_body_that_keeps_arriving_is_read_whole(monkeypatch):
    """The bound is on the silence between parts, not on the whole upload."""
    from gateway import handler

    monkeypatch.setattr(handler, "BODY_IDLE_SECONDS", 0.2)
    parts = [b"a" * 10] * 8

    async def receive() -> dict:
        await asyncio.sleep(0.06)  # 8 parts over about half a second, none after more than 0.2 s
        return {"type": "http.request", "body": parts.pop(), "more_body": bool(parts)}

    assert await handler.read_body(receive, {}, 1000) == b"a" * 80


async def test_a_body_that_keeps_trickling_past_the_whole_body_deadline_is_a_408(monkeypatch):
    """A part just within every idle bound, for ever: the whole upload has a deadline too."""
    from gateway import handler

    monkeypatch.setattr(handler, "BODY_IDLE_SECONDS", 0.4)
    monkeypatch.setattr(handler, "BODY_DEADLINE_SECONDS", 0.5)
    sent = 0

    async def receive() -> dict:
        nonlocal sent
        await asyncio.sleep(0.05)
        sent += 1
        return {"type": "http.request", "body": b"a", "more_body": True}

    with pytest.raises(HttpError) as refused:
        await asyncio.wait_for(handler.read_body(receive, {}, 10_000), timeout=5)
    assert (refused.value.status, refused.value.code) == (408, "request_timeout")
    assert "longer than" in refused.value.message
    assert sent >= 8  # it was never idle for long: the deadline, not the idle bound, ended it


async def test_a_read_cancelled_for_another_reason_is_still_cancelled_not_a_408(monkeypatch):
    from gateway import handler

    monkeypatch.setattr(handler, "BODY_IDLE_SECONDS", 0.1)

    async def receive() -> dict:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    reading = asyncio.ensure_future(handler.read_body(receive, {}, 1000))
    await asyncio.sleep(0.02)
    reading.cancel()  # the client left, or the server is stopping
    with pytest.raises(asyncio.CancelledError):
        await reading
