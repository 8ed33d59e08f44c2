"""Upstream credentials are encrypted at rest."""

from __future__ import annotations

from plugins.crypto import decrypt, encrypt

SECRET = "sk-upstream-0123456789"  # pragma: allowlist secret


def test_a_credential_round_trips_and_is_not_stored_in_clear():
    token = encrypt(SECRET)
    assert SECRET not in token
    assert decrypt(token) == SECRET


def test_encrypting_twice_gives_different_tokens():
    assert encrypt(SECRET) != encrypt(SECRET)


def test_an_empty_credential_stays_empty():
    assert encrypt("") == "" and decrypt("") == ""


def test_an_unreadable_token_reads_as_no_credential():
    assert decrypt("gAAAAAnot-a-valid-token") == ""
