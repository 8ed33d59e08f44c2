"""Encryption at rest for upstream credentials and webhook secrets (Fernet).

``FIELD_ENCRYPTION_KEY`` holds one key, or several separated by commas for rotation: the first
encrypts, every one decrypts (:class:`cryptography.fernet.MultiFernet`). After adding a new key in
front, ``manage.py rotate_encryption_keys`` re-encrypts what is stored, and the old key can go.

A value no key can decrypt is an error (:class:`DecryptionFailed`), never an empty string: a
blank credential or webhook secret would fail later, silently and somewhere else.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = ["DecryptionFailed", "decrypt", "encrypt", "reencrypt"]


class DecryptionFailed(Exception):
    """A stored secret that none of the configured keys decrypts (the key changed or was lost)."""

    def __init__(self) -> None:
        super().__init__(
            "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEY: the key changed or differs between "
            "processes. Put the old key after the new one (comma-separated) and run manage.py "
            "rotate_encryption_keys, or store the secret again."
        )


def _fernet_for(passphrase: str) -> Fernet:
    # Any passphrase works: it is stretched to the 32 bytes Fernet wants.
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(passphrase.encode()).digest()))


@cache
def _fernet(keys: str) -> MultiFernet:
    passphrases = [key for key in keys.split(",") if key]
    if not passphrases:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is required to store upstream credentials.")
    return MultiFernet([_fernet_for(passphrase) for passphrase in passphrases])


def _keys() -> MultiFernet:
    return _fernet(settings.FIELD_ENCRYPTION_KEY)


def encrypt(plaintext: str) -> str:
    return _keys().encrypt(plaintext.encode()).decode() if plaintext else ""


def decrypt(token: str) -> str:
    """Decrypt a stored secret (empty stays empty).

    :raises DecryptionFailed: no configured key decrypts it.
    """
    if not token:
        return ""
    try:
        return _keys().decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionFailed() from None


def reencrypt(token: str) -> str:
    """``token`` encrypted with the first key (unchanged when empty).

    :raises DecryptionFailed: no configured key decrypts it.
    """
    if not token:
        return ""
    try:
        return _keys().rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionFailed() from None
