"""A request id is the caller's when it is well-formed, a new random one otherwise."""

from __future__ import annotations

import re

import pytest

from core import request_id


def test_a_well_formed_id_is_kept():
    assert request_id.from_headers("lb-7f3a.01:2") == "lb-7f3a.01:2"
    assert request_id.from_meta({"HTTP_X_REQUEST_ID": "abc-123"}) == "abc-123"


@pytest.mark.parametrize("hostile", [None, "", "a b", "x" * 129, "id\nInjected: yes"])
def test_a_missing_or_malformed_id_is_replaced(hostile):
    assert re.fullmatch(r"[0-9a-f]{32}", request_id.from_headers(hostile))
