"""Formatting for the dashboard's templates."""

from __future__ import annotations

from django import template

from billing.models import MICRO
from dashboard.workspace import Workspace

register = template.Library()


@register.filter
def credits(micro: int | None) -> str:
    """Credit micro-units as credits: ``1234500`` → ``1.2345``; ``None`` → an em dash."""
    if micro is None:
        return "—"
    text = f"{micro / MICRO:,.4f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


@register.filter
def can(workspace: Workspace | None, action: str) -> bool:
    """``{% if workspace|can:"manage_keys" %}``: whether the current role allows the action."""
    return bool(workspace is not None and workspace.can(action))
