"""The parsed Request handed to handlers, and reading one from ASGI."""

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

from simulator.errors import SimError
from simulator.faults import HEADER, NO_FAULTS, QUERY_PARAM, Faults
from simulator.types import Receive, Scope

MAX_BODY = 26 * 1024 * 1024  # the largest upload (25 MB audio) plus multipart overhead
_UNPARSED = object()


class BodyTooLarge(Exception):
    """The client sent more than MAX_BODY bytes."""


@dataclass(slots=True)
class Request:
    """One HTTP request, with the path made relative to its host profile.

    ``path`` is percent-decoded; ``raw_path`` is not, so prompts are decoded exactly once.
    ``query`` holds the first value of each parameter, without ``sim_fault``.
    """

    method: str
    profile: str
    full_path: str
    path: str
    raw_path: str
    query_string: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    client_ip: str
    fault_spec: str = ""
    faults: Faults = NO_FAULTS  # parsed from fault_spec by the app, so a bad spec is recorded
    auth: Any = None  # the resolved gen ApiKey, set by the app before protected handlers run
    _json: Any = field(default=_UNPARSED)

    def tail(self, prefix: str) -> str:
        """The decoded remainder of the path after ``prefix`` (e.g. a prompt)."""
        return unquote(self.raw_path[len(prefix) :])

    def json(self) -> Any:
        """The body parsed as JSON (cached); a 400 when it is not JSON."""
        if self._json is _UNPARSED:
            try:
                self._json = json.loads(self.body) if self.body else None
            except ValueError:
                raise SimError(400, "Request body is not valid JSON") from None
        return self._json

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object; a 400 for anything else."""
        data = self.json()
        if not isinstance(data, dict):
            raise SimError(400, "Request body must be a JSON object")
        return data

    @property
    def wants_stream(self) -> bool:
        """Whether the client asked for SSE (``?stream=true`` or ``"stream": true``)."""
        if self.query.get("stream", "").lower() in ("true", "1"):
            return True
        if self.body[:1] != b"{" or b'"stream"' not in self.body:
            return False
        try:
            data = self.json()
        except SimError:
            return False
        return isinstance(data, dict) and data.get("stream") is True


async def read_body(receive: Receive) -> bytes:
    """Read the whole request body; raise BodyTooLarge past MAX_BODY."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def build_request(scope: Scope, body: bytes, profile: str, prefix: str) -> Request:
    """Build a Request from an ASGI scope, the path made relative to ``prefix``."""
    headers: dict[str, str] = {}
    for name, value in scope["headers"]:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    query_string = scope.get("query_string", b"").decode("latin-1")
    query: dict[str, str] = {}
    for name, value in parse_qsl(query_string, keep_blank_values=True):
        query.setdefault(name, value)
    fault_spec = query.pop(QUERY_PARAM, "") or headers.get(HEADER, "")
    raw = scope.get("raw_path") or scope["path"].encode()
    raw_path = raw.decode("latin-1")[len(prefix) :] or "/"
    client = scope.get("client") or ("unknown", 0)
    request = Request(
        method=scope["method"],
        profile=profile,
        full_path=scope["path"],
        path=scope["path"][len(prefix) :] or "/",
        raw_path=raw_path,
        query_string=query_string,
        query=query,
        headers=headers,
        body=body,
        client_ip=client[0],
    )
    request.fault_spec = fault_spec
    return request
