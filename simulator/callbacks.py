"""Callback mode: after answering a request, report its outcome to a callback URL, signed.

A request asks for it with the ``X-Sim-Callback: <url>`` header. Once the answer has been sent,
the simulator POSTs a JSON report in the gateway's callback shape
(``{"job_id", "status", "content_type", "result_base64", "error"}``) to that URL, signed per
Standard Webhooks with ``SIM_CALLBACK_SECRET`` (``webhook-id``, ``webhook-timestamp``,
``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``). The job id is the
``X-Sim-Callback-Job`` header, else ``X-Request-ID`` (which the gateway sends upstream).

Stdlib only; callbacks go to loopback addresses only (a test tool must never call out), once,
with no retry. Each report's fate is kept for ``GET /_sim/callbacks``.
"""

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import os
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from simulator.errors import SimError
from simulator.response import Response

HEADER = "x-sim-callback"  # the callback URL
JOB_HEADER = "x-sim-callback-job"  # the job id to report (default: X-Request-ID)
REQUEST_ID_HEADER = "x-request-id"
# The variable holding the whsec_ secret reports are signed with (its name, not a secret).
ENV_SECRET = "SIM_CALLBACK_SECRET"  # noqa: S105  # pragma: allowlist secret
TIMEOUT_SECONDS = 10.0
LOG_SIZE = 1000
_LOOPBACK_NAMES = ("localhost",)
# No environment proxy: the report goes straight to the loopback address it names.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,`` and the base64 HMAC-SHA256 of ``id.timestamp.body``."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signed_headers(
    secret: str, body: bytes, *, message_id: str | None = None, timestamp: int | None = None
) -> dict[str, str]:
    """The Standard Webhooks headers (and content type) of one report."""
    message_id = message_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
        "content-type": "application/json",
    }


@dataclass(frozen=True, slots=True)
class Target:
    """Where, and for which job, a request's outcome is reported."""

    url: str
    job_id: str


@dataclass(slots=True)
class Sent:
    """One report as ``GET /_sim/callbacks`` shows it."""

    url: str
    job_id: str
    status: str
    response_status: int | None = None
    error: str = ""


def _is_loopback(host: str) -> bool:
    if host.lower().rstrip(".") in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def report_body(job_id: str, response: Response) -> bytes:
    """The report of ``response``: succeeded with the body (base64) for a 2xx, failed otherwise."""
    content_type = dict(response.headers).get(b"content-type", b"application/octet-stream").decode("latin-1")
    ok = 200 <= response.status < 300
    report: dict[str, Any] = {
        "job_id": job_id,
        "status": "succeeded" if ok else "failed",
        "content_type": content_type,
        "result_base64": base64.b64encode(response.body).decode() if ok and response.stream is None else None,
        "error": "" if ok else f"upstream answered {response.status}: {response.body[:200].decode('utf-8', 'replace')}",
    }
    return json.dumps(report, separators=(",", ":")).encode()


class Callbacks:
    """The callback mode of one simulator process: reads targets off requests, sends reports."""

    def __init__(self, secret: str = "") -> None:
        self.secret = secret
        self.log: deque[Sent] = deque(maxlen=LOG_SIZE)
        self._tasks: set[asyncio.Task[Sent]] = set()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Callbacks":
        return cls(environ.get(ENV_SECRET, ""))

    def target(self, headers: Mapping[str, str], wants_stream: bool) -> Target | None:
        """The request's callback target, ``None`` without ``X-Sim-Callback``; a 400 when unusable."""
        url = headers.get(HEADER, "").strip()
        if not url:
            return None
        if not self.secret:
            raise SimError(400, f"Callback mode needs {ENV_SECRET} (a whsec_ secret) in the simulator's environment")
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or not _is_loopback(parts.hostname):
            raise SimError(
                400, "X-Sim-Callback must be an http:// URL of a loopback address (127.0.0.1, ::1, localhost)"
            )
        if wants_stream:
            raise SimError(400, "Callback mode reports complete answers only: drop stream=true")
        job_id = headers.get(JOB_HEADER) or headers.get(REQUEST_ID_HEADER) or ""
        if not job_id:
            raise SimError(400, "Callback mode needs the job id: send X-Sim-Callback-Job or X-Request-ID")
        return Target(url, job_id)

    def schedule(self, target: Target, response: Response) -> None:
        """Report ``response`` in the background (the answer has already been sent)."""
        task = asyncio.ensure_future(self.send(target, response))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send(self, target: Target, response: Response) -> Sent:
        """POST one signed report; never raises, records what happened."""
        body = report_body(target.job_id, response)
        sent = Sent(target.url, target.job_id, json.loads(body)["status"])
        # S310: target() admitted only http:// URLs of loopback addresses.
        request = urllib.request.Request(  # noqa: S310
            target.url, data=body, headers=signed_headers(self.secret, body), method="POST"
        )
        try:
            sent.response_status = await asyncio.to_thread(_post, request)
        except (OSError, urllib.error.URLError) as exc:
            sent.error = f"{type(exc).__name__}: {exc}"[:300]
        self.log.append(sent)
        return sent

    def dump(self) -> bytes:
        return json.dumps({"callbacks": [asdict(s) for s in self.log]}, separators=(",", ":")).encode()


def _post(request: urllib.request.Request) -> int:
    try:
        with _OPENER.open(request, timeout=TIMEOUT_SECONDS) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:  # a non-2xx answer is an outcome, not a failure to send
        return exc.code


__all__ = ["Callbacks", "Sent", "Target", "report_body", "sign", "signed_headers"]
