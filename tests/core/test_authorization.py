"""core.authorization reads a Bearer header the way every caller of it needs."""

from __future__ import annotations

import pytest

from core.authorization import bearer_token


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("BEARER  abc ", "abc"),
        ("Bearer ", ""),
        ("Basic abc", None),
        ("Bearerabc", None),
        ("Bearer\tabc", None),
        ("", None),
        (None, None),
    ],
)
def test_the_credentials_of_a_bearer_header_and_none_for_any_other(header: str | None, expected: str | None) -> None:
    assert bearer_token(header) == expected
