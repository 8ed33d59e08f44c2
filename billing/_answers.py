"""What admission answers: the ``x-ratelimit-*`` headers of an admitted request, and the 429/402 of a refused one."""

from __future__ import annotations

import math
import time

from billing._stores import AdmitResult
from billing.types import Admission, Rule
from core.errors import HttpError

__all__ = ["headers_of", "refusal_of"]


def _seconds(ms: int) -> str:
    return f"{max(1, math.ceil(ms / 1000))}s"


def headers_of(rules: tuple[Rule, ...], result: AdmitResult) -> dict[str, str]:
    """The tightest limit of each family: ``x-ratelimit-{limit,remaining,reset}-<family>``."""
    best: dict[str, tuple[int, int, int]] = {}
    rates = iter(result.rate)
    concs, quotas = iter(result.conc), iter(result.quota)
    for rule in rules:
        if rule.kind == "rate":
            remaining, reset_ms = next(rates)
        elif rule.kind == "conc":
            remaining, reset_ms = next(concs), 0
        else:
            remaining, reset_ms = next(quotas), int(max(0.0, rule.reset_at - time.time()) * 1000)
        if rule.family not in best or remaining < best[rule.family][1]:
            best[rule.family] = (rule.limit, remaining, reset_ms)
    headers = {}
    for family, (limit, remaining, reset_ms) in best.items():
        headers[f"x-ratelimit-limit-{family}"] = str(limit)
        headers[f"x-ratelimit-remaining-{family}"] = str(max(0, remaining))
        if family != "concurrent":
            headers[f"x-ratelimit-reset-{family}"] = _seconds(reset_ms)
    return headers


def refusal_of(admission: Admission, result: AdmitResult) -> HttpError:
    if result.kind == "credit":
        return HttpError(
            402,
            "This organisation has run out of credits: add credits or change plan, then retry.",
            type="insufficient_quota",
            code="insufficient_credits",
        )
    rule = [r for r in admission.rules if r.kind == result.kind][result.index]
    retry = _seconds(result.retry_after_ms)[:-1]
    scope = rule.scope.split(":", 1)[0]
    if result.kind == "rate":
        what = f"{rule.limit} requests per {rule.window} s"
    elif result.kind == "conc":
        what = f"{rule.limit} concurrent requests"
    else:
        what = f"the {rule.family} quota of {rule.limit}"
    headers = {
        "Retry-After": retry,
        f"x-ratelimit-limit-{rule.family}": str(rule.limit),
        f"x-ratelimit-remaining-{rule.family}": "0",
        f"x-ratelimit-reset-{rule.family}": f"{retry}s",
    }
    return HttpError(
        429,
        f"Rate limit reached: this {scope} allows {what}. Retry in {retry} s.",
        type="rate_limit_error",
        code="rate_limit_exceeded",
        headers=headers,
    )
