"""The API key format, checked in pure Python before any cache or database lookup.

A key reads ``mgw_<32 base62 characters><6 base62 characters>``: the recognisable prefix ``mgw_``,
190 bits of randomness, then the CRC32 of everything before it in base62. A typo, a truncated
paste or a key for another service fails the shape or checksum test here and never costs a lookup.
Secret scanners can also recognise the ``mgw_`` prefix.
"""

from __future__ import annotations

import hashlib
import secrets
import zlib

__all__ = [
    "KEY_LENGTH",
    "KEY_PREFIX",
    "PUBLIC_PREFIX_LENGTH",
    "key_generate",
    "key_hash",
    "key_is_well_formed",
    "key_public_prefix",
]

KEY_PREFIX = "mgw_"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ALPHABET_SET = frozenset(_ALPHABET)
_RANDOM_CHARS = 32  # 32 * log2(62) ≈ 190 bits
_CHECKSUM_CHARS = 6  # 62**6 > 2**32
KEY_LENGTH = len(KEY_PREFIX) + _RANDOM_CHARS + _CHECKSUM_CHARS
#: How much of the key is shown in lists and logs: the prefix and 8 random characters (≈ 48 bits,
#: enough to tell keys apart, far too little to help guess the other ≈ 142 bits).
PUBLIC_PREFIX_LENGTH = len(KEY_PREFIX) + 8


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        chars.append(_ALPHABET[remainder])
    return "".join(reversed(chars))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode("ascii")), _CHECKSUM_CHARS)


def key_generate() -> str:
    """A new random key (the only time the whole secret exists outside the caller's hands)."""
    body = KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_CHARS))
    return body + _checksum(body)


def key_is_well_formed(raw: str) -> bool:
    """Whether ``raw`` has the prefix, the length, the alphabet and a matching checksum."""
    if len(raw) != KEY_LENGTH or not raw.startswith(KEY_PREFIX):
        return False
    if not _ALPHABET_SET.issuperset(raw[len(KEY_PREFIX) :]):
        return False
    body, checksum = raw[:-_CHECKSUM_CHARS], raw[-_CHECKSUM_CHARS:]
    return _checksum(body) == checksum


def key_hash(raw: str) -> str:
    """SHA-256 of the whole key, hex.

    A fast unsalted hash is the right tool here, unlike for passwords: the key carries ~190 bits of
    randomness, so there is no dictionary to try and brute force is out of reach even at billions of
    hashes per second, and a deterministic hash lets the hot path find the key by an indexed lookup
    in microseconds. A slow KDF (bcrypt, scrypt) would only cost every request milliseconds.
    """
    return hashlib.sha256(raw.encode("ascii")).hexdigest()


def key_public_prefix(raw: str) -> str:
    return raw[:PUBLIC_PREFIX_LENGTH]
