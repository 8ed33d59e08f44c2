"""The plan's ceilings on a key's limits, registered with the accounts services at start-up."""

from __future__ import annotations

from django.conf import settings

from accounts.models import Organization
from billing.models import Subscription


def plan_key_limit_ceilings(organization: Organization) -> dict[str, int | None]:
    """The most each key limit may be under the organisation's plan (``None``: the plan sets none).

    Without a subscription the gateway's defaults apply: job priority 0, ``JOBS_MAX_RUNNING_PER_ORG``.
    """
    subscription = Subscription.objects.select_related("plan").filter(organization=organization).first()
    plan = subscription.plan if subscription is not None else None
    return {
        "requests_per_minute": plan.requests_per_minute if plan else None,
        "concurrent": plan.concurrent_requests if plan else None,
        "job_priority": plan.job_priority if plan else 0,
        "max_running_jobs": (plan.max_running_jobs if plan else None) or settings.JOBS_MAX_RUNNING_PER_ORG,
    }
