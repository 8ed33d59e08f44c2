"""The messages of the edge validation read as sentences: what is wrong, said once, in plain words."""

from __future__ import annotations

import pytest

from core.errors import HttpError
from gateway.validation import decode_json


def refusal(body: bytes) -> HttpError:
    with pytest.raises(HttpError) as raised:
        decode_json(body)
    return raised.value


@pytest.mark.parametrize("body", [b"{bad", b'{"a": NaN}', b'{"a": 1,}'])
def test_malformed_json_is_named_once_and_its_acronym_keeps_its_capitals(body):
    message = refusal(body).message
    assert message.startswith("The request body is not valid JSON: ")
    assert message.count("JSON") == 1, message
    assert "jSON" not in message
    assert message.endswith(".")


def test_the_decoders_reason_starts_lower_case_after_the_colon():
    assert refusal(b"[1, 2").message == "The request body is not valid JSON: input data was truncated."
    assert refusal(b"{bad").message == "The request body is not valid JSON: object keys must be strings (byte 1)."
