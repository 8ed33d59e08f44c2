"""``GET /v1/key/info``: what the calling API key may do and what is left of its organisation's plan.

The key holder's view of LiteLLM's ``/key/info``: the key's scopes, models, own limits and expiry
(from the resolved key, no I/O), the organisation's plan limits (the cached billing policy) and
this period's usage, remaining quotas and credit balance (one read of the daily roll-up).
"""

from __future__ import annotations

import datetime as dt

from asgiref.sync import sync_to_async
from django.http import HttpRequest, JsonResponse

from billing.policy import org_policy
from billing.selectors import usage_overview
from core.errors import READ_METHODS, require_method
from gateway.auth import authenticate


def _iso(value: dt.datetime | float | None) -> str | None:
    if value is None or value == 0:
        return None
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromtimestamp(value, dt.UTC)
    return moment.isoformat().replace("+00:00", "Z")


async def key_info(request: HttpRequest) -> JsonResponse:
    require_method(request.method, *READ_METHODS)
    identity = await authenticate(request)
    policy = await org_policy(identity.organization_id)
    overview = await sync_to_async(usage_overview)(organization_id=identity.organization_id)
    quotas = [
        {"name": q["name"], "used": q["used"], "limit": q["limit"], "remaining": max(0, q["limit"] - q["used"])}
        for q in overview["quotas"]
    ]
    return JsonResponse(
        {
            "object": "key.info",
            "key": {
                "id": identity.key_id,
                "prefix": identity.key_prefix,
                "organization": identity.organization_slug,
                "scopes": sorted(identity.scopes),
                "allowed_models": sorted(identity.allowed_models),
                "limits": dict(identity.limits),
                "expires_at": _iso(identity.expires_at),
            },
            "plan": None
            if policy.plan is None
            else {
                "slug": policy.plan,
                "status": policy.status,
                "requests_per_minute": policy.requests_per_minute,
                "user_requests_per_minute": policy.user_requests_per_minute,
                "concurrent_requests": policy.concurrent,
                "allowed_models": sorted(policy.allowed_models),
                "credits_enforced": policy.credit_enforced,
            },
            "period": {
                "start": _iso(overview["period_start"]),
                "end": _iso(overview["period_end"]),
                "usage": overview["period"],
            },
            "quotas": quotas,
            "credit_balance": overview["balance"],
        }
    )
