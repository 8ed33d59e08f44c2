"""Shapes shared by the billing hot path (admission → settlement) and its stores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from billing.pricing import FREE, UnitPrices

RuleKind = Literal["rate", "conc", "quota"]
#: What a quota counts, as written on the ledger.
Unit = Literal["requests", "tokens", "images", "audio_ms", "cost"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One limit applied to one request.

    :param scope: whose limit (``key:12``, ``user:4``, ``org:3``, ``provider:pollinations-text``).
    :param family: the ``x-ratelimit-*-<family>`` header it reports under.
    :param window: seconds (rate window, concurrency lease, or quota window length).
    :param window_id: for quotas, which window (period start), part of the storage key.
    """

    kind: RuleKind
    scope: str
    family: str
    limit: int
    window: int
    unit: Unit = "requests"
    window_id: int = 0
    reset_at: float = 0.0

    @property
    def key(self) -> str:
        suffix = f":{self.window_id}" if self.kind == "quota" else ""
        return f"mcp:bill:{self.kind}:{self.scope}:{self.family}:{self.window}{suffix}"


@dataclass(slots=True)
class Admission:
    """A request let in: what it holds (slots, reservation) until it is settled (``billing.hotpath.metered``)."""

    ledger_id: str
    organization_id: int
    rules: tuple[Rule, ...]
    estimate: int
    credit_enforced: bool
    provider: str
    key_id: int | None = None
    user_id: int | None = None
    #: Unit prices of the model at admission (settlement bills at the same prices).
    prices: UnitPrices = FREE
    headers: dict[str, str] = field(default_factory=dict)
    #: Which store admitted it: ``redis``, or ``local`` (embedded, or Redis down).
    store: str = "redis"
    #: What the work is charged under if it completes (a job attempt: the job's ``job-<id>``); the
    #: reconciler settles a dead attempt's hold against it, so a job is never charged twice.
    charge_id: str = ""
    #: The process holding it (its heartbeat tells the reconciler whether it is alive).
    process_id: str = ""
    #: Carried into the ledger row the reconciler writes if the process dies before settling.
    client_request_id: str = ""
    model: str = ""
    operation: str = ""
    modality: str = ""
