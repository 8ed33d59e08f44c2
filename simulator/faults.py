"""Per-request fault injection, parsed from the ``X-Sim-Fault`` header or ``sim_fault`` query.

Syntax: knobs separated by ``,`` or ``;``; each is ``name`` or ``name=value``, e.g.
``latency=200ms,status=429;retry-after=2``. Durations take ``ms``/``s`` (bare numbers are ms);
sizes take ``b``/``kb``/``mb`` (binary multiples; bare numbers are bytes).
"""

import re
from dataclasses import dataclass
from typing import Any

from simulator.errors import CONTENT_POLICY_CODE, SimError, retry_after

HEADER = "x-sim-fault"
QUERY_PARAM = "sim_fault"

# Knob names (documented one by one in README.md).
LATENCY = "latency"  # delay before the response starts (simulated generation time)
STREAM_INTERVAL = "stream-interval"  # pause before each streamed chunk
STATUS = "status"  # answer with this HTTP status in the era's error shape
RETRY_AFTER = "retry-after"  # add Retry-After (seconds) to a fault error
HANG = "hang"  # never answer; wait until the client gives up
# Drops: a complete body is always cut after its first half; a stream after N events.
DROP_MID_STREAM = "drop-mid-stream"  # cut the connection halfway (after 2 SSE events)
DROP_AFTER = "drop-after"  # cut the connection after N SSE events (or N 64 KiB size chunks)
MALFORMED = "malformed"  # corrupt the body (truncated JSON, a broken SSE event)
ERROR_BEFORE_STREAM = "error-before-stream"  # a streaming request gets a JSON error instead
SIZE = "size"  # pad a complete body to N bytes, sent in 64 KiB chunks
MODERATION = "moderation"  # 422 content_policy_violation
BUDGET = "budget"  # 402, key budget exhausted
PK_LIMIT = "pk-limit"  # 429 in the publishable-key limiter's flat shape
EDGE_LIMIT = "edge-limit"  # 429 RATE_LIMITED envelope from the edge limiter
LEGACY_QUEUE = "legacy-queue"  # turn the legacy per-IP queue on for this request
CHUNK_BYTES = "chunk-bytes"  # re-cut a stream into N-byte writes (events split across reads)
ERROR_OBJECT = "error-object"  # status 200 whose body is an error object (a stream: one error event)
CORRUPT_MEDIA = "corrupt-media"  # media bytes (or a b64_json image) that are not of the declared type
TRICKLE = "trickle"  # send the body one byte at a time, waiting D between bytes

KNOBS = (
    LATENCY,
    STREAM_INTERVAL,
    STATUS,
    RETRY_AFTER,
    HANG,
    DROP_MID_STREAM,
    DROP_AFTER,
    MALFORMED,
    ERROR_BEFORE_STREAM,
    SIZE,
    MODERATION,
    BUDGET,
    PK_LIMIT,
    EDGE_LIMIT,
    LEGACY_QUEUE,
    CHUNK_BYTES,
    ERROR_OBJECT,
    CORRUPT_MEDIA,
    TRICKLE,
)
MID_STREAM_EVENTS = 2
MAX_SIZE = 1 << 30
DEFAULT_RETRY_AFTER = 1
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)?$")
_SIZE = re.compile(r"^(\d+)(b|kb|mb|gb)?$")
_SIZE_UNITS = {None: 1, "b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30}


@dataclass(frozen=True, slots=True)
class Faults:
    """The faults requested for one request; the default instance injects nothing."""

    spec: str = ""
    latency: float = 0.0
    stream_interval: float = 0.0
    status: int = 0
    retry_after: int | None = None
    hang: bool = False
    drop_after: int = 0
    drop_mid_stream: bool = False
    malformed: bool = False
    error_before_stream: bool = False
    size: int = 0
    moderation: bool = False
    budget: bool = False
    pk_limit: bool = False
    edge_limit: bool = False
    legacy_queue: bool = False
    chunk_bytes: int = 0
    error_object: bool = False
    corrupt_media: bool = False
    trickle: float = 0.0

    @property
    def drops(self) -> bool:
        """Whether the connection is to be cut before the body completes."""
        return self.drop_mid_stream or self.drop_after > 0

    def early_error(self) -> SimError | None:
        """The error to answer with before generating anything, if a knob asks for one."""
        wait = self.retry_after if self.retry_after is not None else DEFAULT_RETRY_AFTER
        if self.moderation:
            return SimError(
                422,
                "Content blocked by the safety filter (simulated).",
                code=CONTENT_POLICY_CODE,
                details={"name": "ModerationError", "categories": ["simulated"]},
            )
        if self.budget:
            return SimError(402)
        if self.pk_limit:
            message = f"Publishable key rate limit exceeded. Retry in {wait} seconds."
            body = {"error": "Rate limit exceeded", "message": message, "retryAfterSeconds": wait}
            return SimError(429, message, headers=retry_after(wait), body=body)
        if self.edge_limit:
            return SimError(429, headers=retry_after(wait))
        if self.status and not self.error_before_stream:
            headers = retry_after(self.retry_after) if self.retry_after is not None else None
            return SimError(self.status, f"Simulated upstream status {self.status}", headers=headers)
        return None

    def stream_error(self) -> SimError:
        """The JSON error a streaming request gets under ``error-before-stream``."""
        status = self.status or 500
        return SimError(status, f"Simulated error before the stream started ({status})")


NO_FAULTS = Faults()


def parse_faults(spec: str) -> Faults:
    """Parse a fault spec; raise a 400 naming the bad knob and the valid ones."""
    if not spec:
        return NO_FAULTS
    values: dict[str, Any] = {"spec": spec}  # each value has its Faults field's type (_knob_value)
    for item in re.split(r"[,;]", spec):
        name, _, value = item.strip().lower().partition("=")
        if not name:
            continue
        try:
            values[name.replace("-", "_")] = _knob_value(name, value)
        except ValueError as exc:
            raise SimError(400, f"Bad simulator fault {item!r}: {exc}. Knobs: {', '.join(KNOBS)}") from None
    return Faults(**values)


def _knob_value(name: str, value: str) -> object:
    """Convert one knob's text value to its typed value."""
    if name in (LATENCY, STREAM_INTERVAL, TRICKLE):
        match = _DURATION.match(value)
        if not match:
            raise ValueError("expected a duration like 200ms or 2s")
        number = float(match.group(1))
        return number if match.group(2) == "s" else number / 1000
    if name in (STATUS, RETRY_AFTER, DROP_AFTER, CHUNK_BYTES):
        if not value.isdigit():
            raise ValueError("expected an integer")
        if name == STATUS and not 400 <= int(value) <= 599:
            raise ValueError("expected an error status 400-599")
        return int(value)
    if name == SIZE:
        match = _SIZE.match(value)
        if not match:
            raise ValueError("expected a size like 8mb or 512kb")
        return min(int(match.group(1)) * _SIZE_UNITS[match.group(2)], MAX_SIZE)
    if name in KNOBS:
        if value:
            raise ValueError("this knob takes no value")
        return True
    raise ValueError("unknown knob")
