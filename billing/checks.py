"""Deployment checks of the billing settings (``manage.py check --deploy``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, register
from django.core.checks import Warning as CheckWarning


@register(Tags.security, deploy=True)
def open_registration_has_a_default_plan(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Open registration with no default plan lets a stranger register, create an organisation and
    call the upstream on the operator's account with no limit and no charge."""
    if settings.REGISTRATION_MODE == "open" and not settings.BILLING_DEFAULT_PLAN:
        return [
            CheckWarning(
                "Anyone may register, create an organisation and use the upstream without limits or charges.",
                hint="Set REGISTRATION_MODE=invite, or BILLING_DEFAULT_PLAN to the plan that organisations "
                "without a subscription are held to.",
                id="billing.W001",
            )
        ]
    return []
