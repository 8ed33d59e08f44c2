"""Reads of provider configuration."""

from __future__ import annotations

import structlog

from core.crypto import DecryptionFailed, decrypt
from plugins.models import ProviderConfig
from plugins.types import ProviderSettings

log = structlog.get_logger(__name__)


def _credential(row: ProviderConfig) -> tuple[str, str]:
    """The row's credential in clear, or ``""`` and why it cannot be read."""
    try:
        return decrypt(row.credential_encrypted), ""
    except DecryptionFailed as exc:
        log.error("provider_credential_undecryptable", provider=row.name)
        return "", str(exc)


def _to_settings(row: ProviderConfig) -> ProviderSettings:
    credential, credential_error = _credential(row)
    return ProviderSettings(
        name=row.name,
        kind=row.kind,
        base_url=row.base_url,
        credential=credential,
        credential_error=credential_error,
        enabled=row.enabled,
        priority=row.priority,
        connect_timeout=row.connect_timeout,
        read_timeout=row.read_timeout,
        model_aliases=dict(row.model_aliases),
        extra_models=dict(row.served_models),
        options=dict(row.options),
    )


async def provider_settings_list() -> list[ProviderSettings]:
    """Every provider row, as provider settings with the credential decrypted."""
    return [_to_settings(row) async for row in ProviderConfig.objects.order_by("priority", "name")]


def provider_settings_list_sync() -> list[ProviderSettings]:
    """:func:`provider_settings_list` for sync code (the admin)."""
    return [_to_settings(row) for row in ProviderConfig.objects.order_by("priority", "name")]
