"""Writing the append-only security audit log."""

from __future__ import annotations

from typing import Any

from accounts.models import AuditEvent, Organization, User


def audit_event_record(
    *,
    action: str,
    actor: User | None = None,
    actor_email: str = "",
    organization: Organization | None = None,
    ip: str | None = None,
    target: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event: who (``actor``), when (now), from where (``ip``), what (``action`` on ``target``)."""
    event = AuditEvent(
        action=action,
        actor=actor if actor is not None and actor.pk else None,
        actor_email=(actor.email if actor is not None else actor_email)[:254],
        organization=organization,
        ip_address=ip or None,
        target=target[:200],
        detail=detail or {},
    )
    event.full_clean()
    event.save()
    return event
