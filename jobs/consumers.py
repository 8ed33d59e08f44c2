"""``/ws/jobs/``: live job events for one organisation.

Authentication, in ``connect`` and before joining any group:

* an API key — ``Authorization: Bearer <key>``, ``X-API-Key``, or ``?api_key=`` (browsers cannot
  set headers on a WebSocket) — selects the key's organisation;
* a JWT access token (``Authorization: Bearer`` or ``?token=``), or the dashboard session, plus
  ``?org=<slug>``: the user must be a member whose role allows ``view_jobs``.

The connection then joins its organisation's group only (:func:`jobs.events.organization_group`)
and first receives a ``snapshot`` of the current state, so a reconnecting client misses nothing.
Clients may send ``{"type": "subscribe", "job": "<id>"}`` for one job's current state. Any other
text frame is answered with ``{"type": "error", ...}`` (``invalid_json`` when it is not JSON or
nests too deeply, ``unknown_message`` otherwise) and the connection stays open; a binary frame
closes it with 1003 (unsupported data), a text frame over :data:`MAX_MESSAGE_CHARS` with 1009
(message too big).

With the in-memory channel layer (embedded, no Redis) the worker's events cannot arrive, so the
connection also polls its organisation's job changes from the database (:mod:`jobs.fallback`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from accounts.exceptions import NotFound
from accounts.keyauth import InvalidApiKey, extract_api_key, resolve_api_key
from accounts.keyformat import key_is_well_formed
from accounts.models import User
from accounts.roles import role_allows
from accounts.selectors import organization_get_for_member
from jobs import fallback, selectors
from jobs.events import RESULT_DELETED, job_state, organization_group
from jobs.exceptions import JobNotFound

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_BAD_REQUEST = 4400
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_MESSAGE_TOO_BIG = 1009
#: The largest frame a client needs is a subscribe message; anything far larger is refused unread.
MAX_MESSAGE_CHARS = 4096
SUBSCRIBE_HINT = 'Send {"type": "subscribe", "job": "<job id>"}.'


class JobEventsConsumer(AsyncJsonWebsocketConsumer):
    organization_id: int | None = None
    _poller: asyncio.Task | None = None
    _sent: fallback.SentStates | None = None  # set only while polling: events are then deduplicated

    async def connect(self) -> None:
        query = {k: v[-1] for k, v in parse_qs(self.scope.get("query_string", b"").decode()).items()}
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in self.scope.get("headers", [])}
        await self.accept()  # accept first so a refusal can carry its close code to browsers
        try:
            self.organization_id = await self._organization(query, headers)
        except PermissionError:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        if self.organization_id is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        await self.channel_layer.group_add(organization_group(self.organization_id), self.channel_name)
        if fallback.layer_is_in_process(self.channel_layer):
            self._sent = fallback.SentStates()
        jobs = await selectors.job_snapshot(organization_id=self.organization_id)
        states = [job_state(job) for job in jobs]
        await self.send_json({"type": "snapshot", "jobs": states})
        if self._sent is not None:
            for state in states:
                self._sent.event_for(state)
            poll = fallback.poll_changes(organization_id=self.organization_id, sent=self._sent, send=self.send_json)
            self._poller = asyncio.ensure_future(poll)

    async def _organization(self, query: dict[str, str], headers: dict[str, str]) -> int | None:
        raw = extract_api_key(headers, query.get("api_key"))
        if raw and key_is_well_formed(raw):
            try:
                return (await resolve_api_key(raw)).organization_id
            except InvalidApiKey:
                return None
        user = await self._jwt_user(query.get("token") or raw)
        if user is None:
            session_user = self.scope.get("user")
            user = session_user if getattr(session_user, "is_authenticated", False) else None
        if user is None:
            return None
        return await _member_organization(user, query.get("org", ""))

    async def _jwt_user(self, token: str | None) -> User | None:
        if not token:
            return None
        try:
            user_id = AccessToken(token)["user_id"]  # type: ignore[arg-type]  # simplejwt annotates the encoded token as Token
        except (TokenError, KeyError):
            return None
        return await User.objects.filter(id=user_id, is_active=True).afirst()

    async def disconnect(self, code: int) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        if self.organization_id is not None:
            await self.channel_layer.group_discard(organization_group(self.organization_id), self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs) -> None:
        """Decode one client frame; garbage is answered or closes the socket, never raises."""
        if self.organization_id is None:
            return  # a frame that raced the refusal of an unauthenticated connection
        if text_data is None:
            await self.close(code=CLOSE_UNSUPPORTED_DATA)
            return
        if len(text_data) > MAX_MESSAGE_CHARS:
            await self.close(code=CLOSE_MESSAGE_TOO_BIG)
            return
        try:
            content = json.loads(text_data)
        except (ValueError, RecursionError):
            await self._error("invalid_json", f"Frames are JSON text. {SUBSCRIBE_HINT}")
            return
        await self.receive_json(content)

    async def _error(self, code: str, message: str) -> None:
        await self.send_json({"type": "error", "code": code, "message": message})

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if self.organization_id is None:
            return  # as in receive(): the connection was refused
        if not isinstance(content, dict) or content.get("type") != "subscribe" or not content.get("job"):
            await self._error("unknown_message", SUBSCRIBE_HINT)
            return
        try:
            job = await selectors.job_get(organization_id=self.organization_id, job_id=str(content["job"]))
        except JobNotFound as exc:
            await self._error(exc.code, exc.message)
            return
        await self.send_json({"type": "job.state", "job": job_state(job)})

    async def job_event(self, message: dict) -> None:
        """A group message from :mod:`jobs.events`: forwarded as ``{"type": "job.<event>", "job": {...}}``."""
        if (
            message["event"] != RESULT_DELETED
            and self._sent is not None
            and self._sent.event_for(message["job"]) is None
        ):
            return  # the poll already sent this state (a result's deletion is no new state: never polled)
        await self.send_json({"type": message["event"], "job": message["job"]})


@database_sync_to_async
def _member_organization(user: User, slug: str) -> int:
    if not slug:
        raise PermissionError("choose the organisation with ?org=<slug>")
    try:
        organization, role = organization_get_for_member(user=user, slug=slug)
    except NotFound:
        raise PermissionError(slug) from None
    if not role_allows(role, "view_jobs"):
        raise PermissionError(slug)
    return organization.id
