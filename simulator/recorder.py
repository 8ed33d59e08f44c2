"""The request log: what each request looked like and how it ended, for tests to assert on."""

import hashlib
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from simulator.auth import fingerprint
from simulator.response import dumps
from simulator.types import CANCELLED, COMPLETED, DROPPED

MAX_RECORDS = 10_000
SECRET_HEADERS = ("authorization", "x-api-key", "cookie", "proxy-authorization")
SECRET_PARAMS = ("key", "token")


@dataclass(slots=True)
class Record:
    """One request. ``generations`` is 1 when it ran a generation, 0 when it joined one."""

    seq: int
    time: float
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body_size: int
    body_sha256: str
    profile: str
    faults: str
    status: int | None = None
    completed: bool = False
    cancelled: bool = False
    dropped: bool = False  # the simulator cut the connection on purpose (a drop fault)
    generations: int = 0
    deduplicated: bool = False
    duration_ms: float | None = None
    _start: float = field(default=0.0, repr=False)

    def finish(self, status: int | None, *, outcome: str = COMPLETED) -> None:
        """Mark the request done: ``completed``, ``cancelled`` by the client, or ``dropped``."""
        self.status = status
        self.completed = outcome == COMPLETED
        self.cancelled = outcome == CANCELLED
        self.dropped = outcome == DROPPED
        self.duration_ms = round((time.perf_counter() - self._start) * 1000, 3)


def _redact(value: str) -> str:
    """Replace a credential by its fingerprint, keeping an auth scheme such as ``Bearer``."""
    scheme, space, credential = value.partition(" ")
    return f"{scheme} {fingerprint(credential)}" if space else fingerprint(value)


def redact_query(query: str) -> str:
    """The query string with credential values replaced by fingerprints."""
    if not any(f"{name}=" in query for name in SECRET_PARAMS):
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, fingerprint(v) if k in SECRET_PARAMS else v) for k, v in pairs])


class Recorder:
    """A bounded, ordered log of Records plus the running generation count."""

    def __init__(self, max_records: int = MAX_RECORDS) -> None:
        self._records: deque[Record] = deque(maxlen=max_records)
        self._seq = 0
        self.generations = 0

    def start(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        profile: str,
        faults: str,
    ) -> Record:
        """Open a record for a request that has just been read."""
        self._seq += 1
        safe_headers = {k: _redact(v) if k in SECRET_HEADERS else v for k, v in headers.items()}
        record = Record(
            seq=self._seq,
            time=time.time(),
            method=method,
            path=path,
            query=redact_query(query),
            headers=safe_headers,
            body_size=len(body),
            body_sha256=hashlib.sha256(body).hexdigest(),
            profile=profile,
            faults=faults,
            _start=time.perf_counter(),
        )
        self._records.append(record)
        return record

    def count_generation(self, record: Record) -> None:
        """Note that ``record`` ran a generation."""
        record.generations += 1
        self.generations += 1

    def clear(self) -> None:
        """Forget every record and reset the generation count (sequence numbers keep rising)."""
        self._records.clear()
        self.generations = 0

    def dump(self, since: int = 0) -> bytes:
        """The records with ``seq > since`` as JSON, oldest first."""
        records = [_public(r) for r in self._records if r.seq > since]
        return dumps({"generations": self.generations, "last_seq": self._seq, "requests": records})


def _public(record: Record) -> dict[str, Any]:
    """A record as JSON-ready data, without private fields."""
    data = asdict(record)
    del data["_start"]
    return data
