"""The dashboard's template filters."""

from __future__ import annotations

import pytest

from dashboard.templatetags.dashboard import credits


@pytest.mark.parametrize(
    ("micro", "shown"),
    [
        (1_234_500, "1.2345"),
        (9, "0.000009"),  # a cheap call is not shown as free
        (0, "0"),
        (6_000_000, "6"),
        (-2_500_000, "-2.5"),
        (1_234_567_000_000, "1,234,567"),
        (None, "—"),
    ],
)
def test_credits_are_shown_exactly(micro, shown):
    assert credits(micro) == shown
