"""Formatting for the dashboard's templates."""

from __future__ import annotations

from django import template

from billing.models import MICRO
from dashboard.workspace import Workspace

register = template.Library()


@register.filter
def credits(micro: int | None) -> str:
    """Credit micro-units as credits, exactly: ``1234500`` → ``1.2345``, ``9`` → ``0.000009`` (a cheap
    call is not shown as free); ``None`` → an em dash."""
    if micro is None:
        return "—"
    whole, fraction = divmod(abs(micro), MICRO)
    text = f"{'-' if micro < 0 else ''}{whole:,}.{fraction:06d}".rstrip("0").rstrip(".")
    return text


@register.filter
def can(workspace: Workspace | None, action: str) -> bool:
    """``{% if workspace|can:"manage_keys" %}``: whether the current role allows the action."""
    return bool(workspace is not None and workspace.can(action))
