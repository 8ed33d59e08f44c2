"""The ``Authorization`` request header."""

from __future__ import annotations


def bearer_token(authorization: str | None) -> str | None:
    """The credentials of a ``Bearer`` header, stripped (``""`` when it carries none); ``None`` for any
    other scheme or no header.

    The scheme is case-insensitive (RFC 9110 §11.1): clients, and Pollinations itself, send "bearer" too.
    """
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None
