"""The readiness registry: every app adds the checks of what it depends on; ``/readyz`` runs them all.

A check is an async callable returning ``None`` when healthy, or raising; the returned mapping (if
any) is shown as detail. A check that wants to fail *with* detail returns a mapping holding
``"ok": False``; one that is healthy but impaired returns a non-empty ``"degraded"`` (status
``degraded``, still HTTP 200).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

__all__ = ["CHECK_TIMEOUT_SECONDS", "ReadinessCheck", "register_readiness_check", "run_readiness_checks"]

log = structlog.get_logger(__name__)

ReadinessCheck = Callable[[], Awaitable[dict | None]]

CHECK_TIMEOUT_SECONDS = 2.0
_CHECKS: dict[str, ReadinessCheck] = {}


def register_readiness_check(name: str, check: ReadinessCheck) -> None:
    """Add (or replace) a named readiness check."""
    _CHECKS[name] = check


async def _run(name: str, check: ReadinessCheck) -> tuple[str, dict]:
    try:
        detail = await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        log.warning("readiness_check_failed", check=name, reason="timeout")
        return name, {"ok": False, "error": f"no answer within {CHECK_TIMEOUT_SECONDS:g} s"}
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; the log keeps the detail.
        log.warning("readiness_check_failed", check=name, error_type=type(exc).__name__)
        # Only the exception class reaches the response: messages may carry hosts or credentials.
        return name, {"ok": False, "error": type(exc).__name__}
    return name, {"ok": True, **(detail or {})}


async def run_readiness_checks() -> dict[str, dict]:
    """Run every registered check concurrently, each under :data:`CHECK_TIMEOUT_SECONDS`: name → result."""
    return dict(await asyncio.gather(*(_run(name, check) for name, check in _CHECKS.items())))
