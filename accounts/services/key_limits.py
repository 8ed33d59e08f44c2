"""The rules of what a key's ``limits`` may be: known names, each within its range, and never
looser than the organisation's plan (a key only tightens it).

The plan lives in the billing app, which accounts may not import: billing registers the ceilings
it knows with :func:`key_limit_ceilings_register` when it starts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from accounts.exceptions import InvalidInput
from accounts.models import Organization

__all__ = ["KNOWN_LIMITS", "LIMIT_RANGES", "api_key_limits_clean", "key_limit_ceilings_register"]

#: Per-key limits the billing/limits code and the job scheduler understand; anything else is refused.
KNOWN_LIMITS = (
    "requests_per_minute",
    "requests_per_day",
    "concurrent",
    "tokens_per_minute",
    "credits_per_month",
    "job_priority",
    "max_running_jobs",
)
#: The range of each limit (the job scheduler's, as on a billing plan; 0 is the lowest job priority).
LIMIT_RANGES: dict[str, tuple[int, int]] = {
    **dict.fromkeys(KNOWN_LIMITS, (1, 10**12)),
    "job_priority": (0, 100),
    "max_running_jobs": (1, 1000),
}

#: organisation → the most each limit may be for its keys (``None`` or absent: no ceiling).
CeilingSource = Callable[[Organization], Mapping[str, int | None]]
_ceiling_sources: list[CeilingSource] = []


def key_limit_ceilings_register(source: CeilingSource) -> None:
    """Add a source of ceilings (billing's plan); registering the same one twice is harmless."""
    if source not in _ceiling_sources:
        _ceiling_sources.append(source)


def _ceilings(organization: Organization) -> dict[str, int]:
    ceilings: dict[str, int] = {}
    for source in _ceiling_sources:
        for name, ceiling in source(organization).items():
            if ceiling is not None:
                ceilings[name] = min(ceiling, ceilings.get(name, ceiling))
    return ceilings


def api_key_limits_clean(*, organization: Organization, limits: Mapping[str, object] | None) -> dict[str, int]:
    """The limits a key of ``organization`` may have, as stored; used on create and on every edit.

    :raises InvalidInput: an unknown name (``param: "limits"``), or a value out of its range or
        looser than the organisation's plan (``param: "limits.<name>"``).
    """
    if limits is not None and not isinstance(limits, Mapping):
        raise InvalidInput("limits must be an object of limit names to whole numbers.", param="limits")
    cleaned: dict[str, int] = {}
    ceilings = _ceilings(organization) if limits else {}
    for name, value in (limits or {}).items():
        if name not in LIMIT_RANGES:
            raise InvalidInput(f"Unknown limit {name!r}: use {', '.join(KNOWN_LIMITS)}.", param="limits")
        low, high = LIMIT_RANGES[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidInput(f"Limit {name!r} must be a whole number from {low} to {high}.", param=f"limits.{name}")
        if name in ceilings and value > ceilings[name]:
            raise InvalidInput(
                f"Limit {name!r} may be at most {ceilings[name]}, the organisation's plan: a key can only "
                "tighten its plan.",
                param=f"limits.{name}",
            )
        cleaned[name] = value
    return cleaned
