"""core.numbers: whole numbers from what a caller typed."""

from __future__ import annotations

import pytest

from core.numbers import plain_int


@pytest.mark.parametrize(
    ("text", "expected"), [("0", 0), ("30", 30), ("007", 7), ("12345678901234567890", 12345678901234567890)]
)
def test_ascii_digits_are_a_number(text: str, expected: int) -> None:
    assert plain_int(text) == expected


@pytest.mark.parametrize("text", ["", "-1", "+1", "1.5", " 1", "1e3", "²", "١٢", "x", "1\x00"])
def test_anything_else_is_none_and_never_an_error(text: str) -> None:
    assert plain_int(text) is None
