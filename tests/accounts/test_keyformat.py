"""Key shape and checksum are checked in pure Python before any lookup."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from accounts.keyformat import KEY_LENGTH, KEY_PREFIX, key_generate, key_hash, key_is_well_formed, key_public_prefix

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def test_generated_keys_have_the_prefix_the_length_and_a_valid_checksum():
    for _ in range(200):
        raw = key_generate()
        assert raw.startswith(KEY_PREFIX)
        assert len(raw) == KEY_LENGTH
        assert key_is_well_formed(raw)


def test_generated_keys_are_unique():
    assert len({key_generate() for _ in range(1000)}) == 1000


@given(position=st.integers(min_value=len(KEY_PREFIX), max_value=KEY_LENGTH - 1), char=st.sampled_from(ALPHABET))
def test_any_single_character_typo_fails_the_checksum(position, char):
    raw = key_generate()
    mutated = raw[:position] + char + raw[position + 1 :]
    assert key_is_well_formed(mutated) is (mutated == raw)


def test_wrong_prefix_length_or_alphabet_is_malformed():
    raw = key_generate()
    assert not key_is_well_formed("sk_" + raw[4:])
    assert not key_is_well_formed(raw[:-1])
    assert not key_is_well_formed(raw + "x")
    assert not key_is_well_formed(raw[:10] + "-" + raw[11:])
    assert not key_is_well_formed("")


def test_the_hash_is_sha256_hex_and_the_public_prefix_is_short():
    raw = key_generate()
    assert len(key_hash(raw)) == 64
    assert key_public_prefix(raw) == raw[:12]
