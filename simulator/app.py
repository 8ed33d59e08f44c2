"""The ASGI application: read, record, route, authenticate, deduplicate, fault, respond."""

import asyncio
import os
from collections.abc import Awaitable
from typing import Any

from simulator import auth
from simulator.errors import SimError, render_error
from simulator.faults import parse_faults
from simulator.recorder import Record
from simulator.request import MAX_BODY, BodyTooLarge, Request, build_request, read_body
from simulator.response import Response, json_response
from simulator.routes import Route, find_route, profile_for
from simulator.state import State
from simulator.transport import Disconnect, send_response
from simulator.types import CANCELLED, GEN, SIM, Receive, Scope, Send

ENV_LISTEN_URL = "SIM_LISTEN_URL"  # set by ``__main__`` so the worker can announce itself
HANG_LIMIT = 3600.0  # a hung request gives up eventually so the process never leaks forever
_HEALTH = json_response(b'{"status":"ok"}')


class Simulator:
    """The whole simulator as one ASGI callable; state lives in ``self.state``."""

    def __init__(self, state: State | None = None) -> None:
        self.state = state or State.from_env()
        self._inflight: dict[tuple[Any, ...], asyncio.Future[Response]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """Announce the listening URL on startup, as ``__main__`` promises."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if os.environ.get(ENV_LISTEN_URL):
                    print(f"simulator listening on {os.environ[ENV_LISTEN_URL]}", flush=True)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one HTTP request end to end and record how it went."""
        profile, prefix = profile_for(scope["path"])
        try:
            body = await read_body(receive)
        except BodyTooLarge:
            body, oversized = b"", True
        else:
            oversized = False
        request = build_request(scope, body, profile, prefix)
        if profile == SIM:
            await send_response(send, self._admin(request), request.faults, Disconnect(receive))
            return
        record = self.state.recorder.start(
            request.method,
            request.full_path,
            request.query_string,
            request.headers,
            body,
            profile,
            request.fault_spec,
        )
        watcher = Disconnect(receive)
        callback = None
        try:
            if oversized:
                raise SimError(413, f"Request body exceeds the simulator's {MAX_BODY} byte limit")
            request.faults = parse_faults(request.fault_spec)
            callback = self.state.callbacks.target(request.headers, request.wants_stream)
            response = await self._respond(request, record, watcher)
        except SimError as err:
            response = render_error(err, profile, request.query, f"sim-{record.seq}")
        try:
            if response is None:
                record.finish(None, outcome=CANCELLED)
            else:
                outcome = await send_response(send, response, request.faults, watcher)
                record.finish(response.status, outcome=outcome)
                if callback is not None:  # reported once the answer is out, as an async provider would
                    self.state.callbacks.schedule(callback, response)
        finally:
            watcher.close()

    async def _respond(self, request: Request, record: Record, watcher: Disconnect) -> Response | None:
        """Route and authenticate, then run the generation (shared while in flight).

        ``None`` means the client disconnected first.
        """
        if request.method == "OPTIONS":
            return _preflight(request)
        route = find_route(request.profile, request.method, request.path)
        if request.profile == GEN:
            if route.public:  # a valid key still narrows the model lists
                request.auth = self.state.keys.get(auth.extract_key(request) or "")
            else:
                request.auth = auth.authenticate(request, self.state.keys)
        faults = request.faults
        key = None
        if route.generates and not faults.hang and not request.wants_stream:
            key = _dedup_key(request)
            shared = self._inflight.get(key)
            if shared is not None:
                record.deduplicated = True
                return await watcher.race(asyncio.shield(shared), cancel=False)
        work: Awaitable[Response] = self._generate(route, request, record)
        if key is not None:
            work = self._share(key, work)
        if faults.latency or faults.hang or self._queued(route, request):  # waits: watch the client
            # A shared generation keeps running for the requests that joined it.
            return await watcher.race(work, cancel=key is None)
        return await work

    def _share(self, key: tuple[Any, ...], work: Awaitable[Response]) -> asyncio.Future[Response]:
        """Run ``work`` as a task identical requests can join until it finishes."""
        task = asyncio.ensure_future(work)
        self._inflight[key] = task
        task.add_done_callback(lambda _: self._inflight.pop(key, None))
        return task

    def _queued(self, route: Route, request: Request) -> bool:
        """Whether this request goes through the legacy per-IP queue."""
        legacy_queue = self.state.legacy_queue or request.faults.legacy_queue
        return request.profile != GEN and route.generates and legacy_queue

    async def _generate(self, route: Route, request: Request, record: Record) -> Response:
        """Wait for a legacy queue slot when one applies, then run the request."""
        if self._queued(route, request):
            tier = auth.legacy_tier(auth.extract_token(request))
            async with self.state.queues.slot(request.profile, request.client_ip, tier):
                return await self._run(route, request, record)
        return await self._run(route, request, record)

    async def _run(self, route: Route, request: Request, record: Record) -> Response:
        """Latency and error faults, then the handler itself."""
        faults = request.faults
        if faults.hang:
            await asyncio.sleep(HANG_LIMIT)
        if faults.latency:
            await asyncio.sleep(faults.latency)
        error = faults.early_error()
        if error is not None:
            raise error
        response = await route.handler(request, self.state)
        if route.generates:
            self.state.recorder.count_generation(record)
        if response.stream is not None and faults.error_before_stream:
            raise faults.stream_error()
        return response

    def _admin(self, request: Request) -> Response:
        """``/_sim/health``, ``/_sim/requests`` (GET reads, DELETE clears) and ``/_sim/callbacks`` (GET)."""
        recorder = self.state.recorder
        if request.path == "/health":
            return _HEALTH
        if request.path == "/requests" and request.method == "GET":
            since = request.query.get("since", "0")
            return json_response(recorder.dump(int(since) if since.isdigit() else 0))
        if request.path == "/callbacks" and request.method == "GET":
            return json_response(self.state.callbacks.dump())
        if request.path == "/requests" and request.method == "DELETE":
            recorder.clear()
            return json_response(b'{"cleared":true}')
        return json_response(b'{"error":"unknown simulator admin endpoint"}', 404)


def _dedup_key(request: Request) -> tuple[Any, ...]:
    """What makes two requests identical for in-flight deduplication."""
    headers = request.headers
    return (
        request.method,
        request.full_path,
        request.raw_path,
        request.query_string,
        request.fault_spec,
        headers.get("authorization"),
        headers.get("x-api-key"),
        request.body,
    )


def _preflight(request: Request) -> Response:
    """A permissive CORS preflight answer."""
    allowed = request.headers.get("access-control-request-headers") or "Content-Type, Authorization, X-API-Key"
    headers = [
        (b"access-control-allow-methods", b"GET, POST, DELETE, OPTIONS"),
        (b"access-control-allow-headers", allowed.encode("latin-1")),
        (b"access-control-max-age", b"86400"),
    ]
    return Response(204, headers)


def create_app() -> Simulator:
    """Build the application from the environment (the server entry point)."""
    return Simulator()


__all__ = ["Simulator", "create_app"]
