"""Writes of provider configuration: every change is validated, encrypted and reloaded here."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from core.crypto import DecryptionFailed, encrypt, reencrypt
from plugins.models import ProviderConfig
from plugins.registry import expire_registry, provider_classes


def provider_kind_validate(*, kind: str) -> None:
    """:raises ValidationError: on ``kind`` when no installed, compatible plugin provides it."""
    installed = provider_classes()
    if kind not in installed:
        raise ValidationError(
            {"kind": f"No installed plugin provides {kind!r}; installed: {', '.join(sorted(installed))}."}
        )


def provider_config_save(*, config: ProviderConfig, credential: str | None = None) -> ProviderConfig:
    """Validate and save a provider configuration, then reload this process's registry.

    Other processes pick the change up within ``plugins.registry.RELOAD_SECONDS``.

    :param config: the new or changed row (not saved yet).
    :param credential: the upstream credential in clear; ``None`` keeps the stored one, ``""`` clears it.
    :raises ValidationError: naming the field at fault (unknown kind, non-HTTP URL, bad JSON shape...).
    """
    provider_kind_validate(kind=config.kind)
    if credential is not None:
        config.credential_encrypted = encrypt(credential)
    config.full_clean()
    config.save()
    expire_registry()
    return config


def provider_config_delete(*, config: ProviderConfig) -> None:
    """Delete a provider configuration (a built-in's row: back to its defaults) and reload."""
    config.delete()
    expire_registry()


def provider_credentials_reencrypt() -> tuple[int, list[str]]:
    """Encrypt every stored upstream credential with the first ``FIELD_ENCRYPTION_KEY``.

    :returns: how many were re-encrypted, and the names of the providers whose credential no key
        decrypts (left as they are).
    """
    done, unreadable = 0, []
    for config in ProviderConfig.objects.exclude(credential_encrypted="").only("pk", "name", "credential_encrypted"):
        try:
            token = reencrypt(config.credential_encrypted)
        except DecryptionFailed:
            unreadable.append(config.name)
            continue
        ProviderConfig.objects.filter(pk=config.pk).update(credential_encrypted=token)
        done += 1
    if done:
        expire_registry()
    return done, unreadable
