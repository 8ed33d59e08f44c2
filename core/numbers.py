"""Whole numbers read from query strings and signed URLs."""

from __future__ import annotations


def plain_int(text: str) -> int | None:
    """``text`` as a non-negative integer if it is written in ASCII digits only, else ``None``.

    ``str.isdigit()`` alone is not enough: it is true for "²" and other digits ``int()`` refuses,
    which would turn a caller's odd query value into a 500.
    """
    return int(text) if text.isascii() and text.isdigit() else None
