"""API key lifecycle: create (secret shown once), edit, rotate, revoke, record last use."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable, Iterable, Mapping
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
from accounts.services.key_limits import api_key_limits_clean

MAX_ALLOWED_MODELS = 100


def _clean_scopes(scopes: Iterable[str]) -> list[str]:
    cleaned = sorted({str(s).strip().lower() for s in scopes if str(s).strip()})
    unknown = [s for s in cleaned if s not in MODALITIES]
    if not cleaned or unknown:
        raise InvalidInput(f"Scopes must be a non-empty list among {', '.join(MODALITIES)}.", param="scopes")
    return cleaned


#: names → those no configured provider serves. The providers are known to the plugins app, which
#: accounts may not import: billing registers the check when it starts (as for the plan's ceilings).
UnknownModels = Callable[[list[str]], list[str]]
_model_checks: list[UnknownModels] = []


def key_models_check_register(check: UnknownModels) -> None:
    """Add a check of the model names a key may list; registering the same one twice is harmless."""
    if check not in _model_checks:
        _model_checks.append(check)


def _clean_models(models: Iterable[str]) -> list[str]:
    cleaned = sorted({str(m).strip() for m in models if str(m).strip()})
    if len(cleaned) > MAX_ALLOWED_MODELS or any(len(m) > 200 for m in cleaned):
        raise InvalidInput(
            f"allowed_models takes at most {MAX_ALLOWED_MODELS} names of up to 200 characters.", param="allowed_models"
        )
    for check in _model_checks if cleaned else ():
        if unknown := check(cleaned):
            raise InvalidInput(
                f"Unknown model {unknown[0]!r}: no configured provider serves it.", param="allowed_models"
            )
    return cleaned


def _clean_name(name: str | None) -> str:
    cleaned = (name or "").strip()
    if not 1 <= len(cleaned) <= 100:
        raise InvalidInput("A key needs a name of 1 to 100 characters.", param="name")
    # Control characters and invisible formatting (zero-width spaces, right-to-left overrides) would
    # show a name other than the one stored, in the dashboard, the audit log and a terminal.
    if any(unicodedata.category(character) in ("Cc", "Cf") for character in cleaned):
        raise InvalidInput("A key name cannot hold control or invisible formatting characters.", param="name")
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
    is_service: bool = False,
    _rotated_from: ApiKey | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the raw secret, which is never stored or shown again.

    :param created_by: the acting user, checked against the permission matrix (``None``: operator).
    :param is_service: an organisation (service) key, which outlives its creator's membership; a
        personal key (the default) is revoked when its creator is deactivated or leaves.
    :param enforce_role: ``False`` when an operator (CLI, admin) records ``created_by`` on their behalf.
    :raises InvalidInput: naming the field at fault.
    :raises Conflict: an active key of that name exists in the organisation.
    """
    require_action(actor=created_by if enforce_role else None, organization=organization, action="manage_keys")
    name = _clean_name(name)
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
        limits=api_key_limits_clean(organization=organization, limits=limits),
        is_service=is_service,
        created_by=created_by,
        expires_at=expires_at,
    )
    api_key.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            api_key.save()
    except IntegrityError as exc:
        raise _name_taken(name) from exc
    detail = {"name": name, "prefix": api_key.prefix, "scopes": api_key.scopes, "service": api_key.is_service}
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
        changes["name"] = _clean_name(name)
    if scopes is not UNCHANGED:
        changes["scopes"] = _clean_scopes(scopes)
    if allowed_models is not UNCHANGED:
        changes["allowed_models"] = _clean_models(allowed_models)
    if limits is not UNCHANGED:
        changes["limits"] = api_key_limits_clean(organization=api_key.organization, limits=limits)
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
        detail={
            "prefix": locked.prefix,
            "changed": sorted(changes),
            **{f: (v.isoformat() if isinstance(v, dt.datetime) else v) for f, v in changes.items()},
        },
    )
    _publish_after_commit(locked)
    return locked


@transaction.atomic
def api_key_revoke(
    *, api_key: ApiKey, actor: User | None = None, ip: str | None = None, reason: str | None = None
) -> ApiKey:
    """Revoke a key (idempotent). Every replica refuses it within seconds of the commit.

    :param reason: recorded in the audit event when the gateway revokes on its own (creator left).
    """
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
            detail={"name": locked.name, "prefix": locked.prefix, **({"reason": reason} if reason else {})},
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
        is_service=old.is_service,
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


#: Why :func:`api_keys_revoke_for_departed_creator` revoked a key (in its audit event).
CREATOR_DEACTIVATED, CREATOR_REMOVED, CREATOR_DELETED = "creator_deactivated", "creator_removed", "creator_deleted"


def api_keys_revoke_for_departed_creator(
    *, user: User, reason: str, organization: Organization | None = None
) -> list[ApiKey]:
    """Revoke the personal keys ``user`` created (in ``organization``, or everywhere), each with an
    audit event; organisation (service) keys are kept. Every replica refuses them within seconds.
    """
    keys = ApiKey.objects.select_related("organization").filter(created_by=user, is_service=False, revoked_at=None)
    if organization is not None:
        keys = keys.filter(organization=organization)
    return [api_key_revoke(api_key=key, reason=reason) for key in keys]
