"""Upstream credentials and webhook secrets are encrypted at rest, with rotating keys."""

from __future__ import annotations

import pytest

from core.crypto import DecryptionFailed, decrypt, encrypt, reencrypt

SECRET = "sk-upstream-0123456789"  # pragma: allowlist secret
OLD, NEW = "old-key-" + "o" * 32, "new-key-" + "n" * 32


def test_a_credential_round_trips_and_is_not_stored_in_clear():
    token = encrypt(SECRET)
    assert SECRET not in token
    assert decrypt(token) == SECRET


def test_encrypting_twice_gives_different_tokens():
    assert encrypt(SECRET) != encrypt(SECRET)


def test_an_empty_credential_stays_empty():
    assert encrypt("") == "" and decrypt("") == ""


def test_an_unreadable_token_is_an_error_that_does_not_contain_it():
    with pytest.raises(DecryptionFailed, match="FIELD_ENCRYPTION_KEY") as failed:
        decrypt("gAAAAAnot-a-valid-token")
    assert "gAAAAA" not in str(failed.value)


def test_with_several_keys_the_first_encrypts_and_each_decrypts(settings):
    settings.FIELD_ENCRYPTION_KEY = OLD
    old_token = encrypt(SECRET)
    settings.FIELD_ENCRYPTION_KEY = f"{NEW},{OLD}"
    new_token = encrypt(SECRET)
    assert decrypt(old_token) == decrypt(new_token) == SECRET
    settings.FIELD_ENCRYPTION_KEY = NEW
    assert decrypt(new_token) == SECRET
    with pytest.raises(DecryptionFailed):
        decrypt(old_token)


def test_reencrypting_moves_a_token_to_the_first_key(settings):
    settings.FIELD_ENCRYPTION_KEY = OLD
    token = encrypt(SECRET)
    settings.FIELD_ENCRYPTION_KEY = f"{NEW},{OLD}"
    rotated = reencrypt(token)
    settings.FIELD_ENCRYPTION_KEY = NEW
    assert decrypt(rotated) == SECRET
