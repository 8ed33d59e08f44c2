"""API key lifecycle: create (secret shown once), edit, rotate, revoke, record last use."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts._keycache import publish_key_state
from accounts.exceptions import Conflict, InvalidInput
from accounts.keyformat import key_generate, key_hash, key_public_prefix
from accounts.models import ApiKey, AuditEvent, Organization, User
from accounts.roles import MODALITIES
from accounts.services._checks import require_action
from accounts.services.audit import audit_event_record

#: Per-key limits the billing/limits code and the job scheduler understand; anything else is refused at creation.
KNOWN_LIMITS = ("requests_per_minute", "requests_per_day", "concurrent", "tokens_per_minute", "credits_per_month",
                "job_priority", "max_running_jobs")  # fmt: skip
#: Limits bounded tighter than the default 10**12 (the job scheduler's ranges, as on a billing plan).
LIMIT_MAXIMUM = {"job_priority": 100, "max_running_jobs": 1000}
MAX_ALLOWED_MODELS = 100


def _clean_scopes(scopes: Iterable[str]) -> list[str]:
    cleaned = sorted({str(s).strip().lower() for s in scopes if str(s).strip()})
    unknown = [s for s in cleaned if s not in MODALITIES]
    if not cleaned or unknown:
        raise InvalidInput(f"Scopes must be a non-empty list among {', '.join(MODALITIES)}.", param="scopes")
    return cleaned


def _clean_models(models: Iterable[str]) -> list[str]:
    cleaned = sorted({str(m).strip() for m in models if str(m).strip()})
    if len(cleaned) > MAX_ALLOWED_MODELS or any(len(m) > 200 for m in cleaned):
        raise InvalidInput(
            f"allowed_models takes at most {MAX_ALLOWED_MODELS} names of up to 200 characters.", param="allowed_models"
        )
    return cleaned


def _clean_limits(limits: Mapping[str, int] | None) -> dict[str, int]:
    cleaned: dict[str, int] = {}
    for name, value in (limits or {}).items():
        if name not in KNOWN_LIMITS:
            raise InvalidInput(f"Unknown limit {name!r}: use {', '.join(KNOWN_LIMITS)}.", param="limits")
        maximum = LIMIT_MAXIMUM.get(name, 10**12)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= maximum:
            raise InvalidInput(f"Limit {name!r} must be a whole number from 1 to {maximum}.", param="limits")
        cleaned[name] = value
    return cleaned


def _name_taken(name: str) -> Conflict:
    return Conflict(f"An active key named {name!r} already exists in this organisation.", param="name")


def _publish_after_commit(api_key: ApiKey) -> None:
    transaction.on_commit(lambda: publish_key_state(ApiKey.objects.select_related("organization").get(pk=api_key.pk)))


@transaction.atomic
def api_key_create(
    *,
    organization: Organization,
    name: str,
    scopes: Iterable[str],
    created_by: User | None = None,
    allowed_models: Iterable[str] = (),
    limits: Mapping[str, int] | None = None,
    expires_at: dt.datetime | None = None,
    ip: str | None = None,
    enforce_role: bool = True,
    _rotated_from: ApiKey | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the raw secret, which is never stored or shown again.

    :param created_by: the acting user, checked against the permission matrix (``None``: operator).
    :param enforce_role: ``False`` when an operator (CLI, admin) records ``created_by`` on their behalf.
    :raises InvalidInput: naming the field at fault.
    :raises Conflict: an active key of that name exists in the organisation.
    """
    require_action(actor=created_by if enforce_role else None, organization=organization, action="manage_keys")
    name = (name or "").strip()
    if not 1 <= len(name) <= 100:
        raise InvalidInput("A key needs a name of 1 to 100 characters.", param="name")
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput("expires_at must be in the future.", param="expires_at")
    raw = key_generate()
    api_key = ApiKey(
        organization=organization,
        name=name,
        prefix=key_public_prefix(raw),
        key_hash=key_hash(raw),
        scopes=_clean_scopes(scopes),
        allowed_models=_clean_models(allowed_models),
        limits=_clean_limits(limits),
        created_by=created_by,
        expires_at=expires_at,
    )
    api_key.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            api_key.save()
    except IntegrityError as exc:
        raise _name_taken(name) from exc
    detail = {"name": name, "prefix": api_key.prefix, "scopes": api_key.scopes}
    if _rotated_from is not None:
        detail["replaces"] = {"id": _rotated_from.pk, "prefix": _rotated_from.prefix}
    audit_event_record(
        action=AuditEvent.Action.KEY_ROTATED if _rotated_from is not None else AuditEvent.Action.KEY_CREATED,
        actor=created_by,
        organization=organization,
        ip=ip,
        target=f"api_key:{api_key.pk}",
        detail=detail,
    )
    return api_key, raw


#: "Leave this field as it is" for :func:`api_key_update` (``None`` is a value: no expiry).
UNCHANGED: Any = object()


@transaction.atomic
def api_key_update(
    *,
    api_key: ApiKey,
    actor: User | None = None,
    name: str = UNCHANGED,
    scopes: Iterable[str] = UNCHANGED,
    allowed_models: Iterable[str] = UNCHANGED,
    limits: Mapping[str, int] | None = UNCHANGED,
    expires_at: dt.datetime | None = UNCHANGED,
    ip: str | None = None,
) -> ApiKey:
    """Edit a key's name, scopes, models, limits or expiry; the secret stays the same.

    Fields are validated as by :func:`api_key_create`; every replica applies the change within
    seconds of the commit (the shared key entry is rewritten, as on revocation).

    :param actor: the acting user, checked against the permission matrix (``None``: operator).
    :raises InvalidInput: naming the field at fault.
    :raises Conflict: the key is revoked, or another active key has that name.
    """
    require_action(actor=actor, organization=api_key.organization, action="manage_keys")
    locked = ApiKey.objects.select_for_update().select_related("organization").get(pk=api_key.pk)
    if locked.revoked_at is not None:
        raise Conflict("This key is revoked; create a new key instead.", param="key")
    changes: dict[str, Any] = {}
    if name is not UNCHANGED:
        changes["name"] = (name or "").strip()
        if not 1 <= len(changes["name"]) <= 100:
            raise InvalidInput("A key needs a name of 1 to 100 characters.", param="name")
    if scopes is not UNCHANGED:
        changes["scopes"] = _clean_scopes(scopes)
    if allowed_models is not UNCHANGED:
        changes["allowed_models"] = _clean_models(allowed_models)
    if limits is not UNCHANGED:
        changes["limits"] = _clean_limits(limits)
    if expires_at is not UNCHANGED:
        if expires_at is not None and expires_at <= timezone.now():
            raise InvalidInput("expires_at must be in the future.", param="expires_at")
        changes["expires_at"] = expires_at
    changes = {field: value for field, value in changes.items() if getattr(locked, field) != value}
    if not changes:
        return locked
    for field, value in changes.items():
        setattr(locked, field, value)
    locked.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            locked.save(update_fields=list(changes))
    except IntegrityError as exc:
        raise Conflict(
            f"An active key named {locked.name!r} already exists in this organisation.", param="name"
        ) from exc
    audit_event_record(
        action=AuditEvent.Action.KEY_UPDATED,
        actor=actor,
        organization=locked.organization,
        ip=ip,
        target=f"api_key:{locked.pk}",
        detail={"prefix": locked.prefix, "changed": sorted(changes),
                **{f: (v.isoformat() if isinstance(v, dt.datetime) else v) for f, v in changes.items()}},
    )  # fmt: skip
    _publish_after_commit(locked)
    return locked


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: User | None = None, ip: str | None = None) -> ApiKey:
    """Revoke a key (idempotent). Every replica refuses it within seconds of the commit."""
    require_action(actor=actor, organization=api_key.organization, action="manage_keys")
    locked = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if locked.revoked_at is None:
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        audit_event_record(
            action=AuditEvent.Action.KEY_REVOKED,
            actor=actor,
            organization=locked.organization,
            ip=ip,
            target=f"api_key:{locked.pk}",
            detail={"name": locked.name, "prefix": locked.prefix},
        )
    _publish_after_commit(locked)
    api_key.revoked_at = locked.revoked_at
    return locked


@transaction.atomic
def api_key_rotate(*, api_key: ApiKey, actor: User | None = None, ip: str | None = None) -> tuple[ApiKey, str]:
    """Replace a key by a new one with the same name, scopes and limits; the old one is revoked at once."""
    require_action(actor=actor, organization=api_key.organization, action="manage_keys")
    old = ApiKey.objects.select_for_update().select_related("organization").get(pk=api_key.pk)
    if old.revoked_at is not None:
        raise Conflict("This key is revoked; create a new key instead.", param="key")
    old.revoked_at = timezone.now()
    old.save(update_fields=["revoked_at"])
    _publish_after_commit(old)
    expires_at = old.expires_at if old.expires_at and old.expires_at > timezone.now() else None
    new, raw = api_key_create(
        organization=old.organization,
        name=old.name,
        scopes=old.scopes,
        created_by=actor if actor is not None else old.created_by,
        enforce_role=actor is not None,
        allowed_models=old.allowed_models,
        limits=old.limits,
        expires_at=expires_at,
        ip=ip,
        _rotated_from=old,
    )
    return new, raw


def api_key_last_used_record(*, used: Mapping[int, float]) -> int:
    """Write a batch of "last used" times (epoch seconds per key id); one UPDATE per key, never backwards."""
    updated = 0
    with transaction.atomic():
        for key_id, epoch in used.items():
            when = dt.datetime.fromtimestamp(epoch, tz=dt.UTC)
            updated += ApiKey.objects.filter(pk=key_id).exclude(last_used_at__gte=when).update(last_used_at=when)
    return updated
