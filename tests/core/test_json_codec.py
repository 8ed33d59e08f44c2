"""core.json_codec reads and writes JSON as the standard library does, faster."""

from __future__ import annotations

import json

import pytest

from core import json_codec

#: Bodies an upstream might send: msgspec reads some, the standard library the rest.
BODIES = [
    b'{"choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":3}}',
    b'{"a":1,"a":2}',  # duplicate keys: the last wins
    b"123456789012345678901234567890",  # beyond 64 bits
    b"[0.1, 1.0000000000000002, -0.0, 1e-400]",
    b'"\\u00e9 \xc3\xa9"',
    b"  {}  ",
    b"[NaN, Infinity, -Infinity]",  # not JSON, read by the standard library
    b"[1e400]",  # beyond a double: inf
    b'"\\ud800"',  # a lone surrogate
    b"\xef\xbb\xbf{}",  # a UTF-8 byte order mark
    '{"x": "é"}'.encode("utf-16"),
]


@pytest.mark.parametrize("body", BODIES)
def test_loads_returns_what_the_standard_library_returns(body: bytes) -> None:
    ours, theirs = json_codec.loads(body), json.loads(body)
    # repr: NaN is not equal to itself, and -0.0 equals 0.0.
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("body", [b"", b"{", b'{"a":}', b"nul", b"\xff\xfe\x00", b'{"a":1}x'])
def test_loads_refuses_what_the_standard_library_refuses_with_a_value_error(body: bytes) -> None:
    # Any ValueError is the contract: JSONDecodeError or UnicodeDecodeError, as json.loads raises.
    with pytest.raises(ValueError):  # noqa: PT011
        json.loads(body)
    with pytest.raises(ValueError):  # noqa: PT011
        json_codec.loads(body)


def test_dumps_writes_compact_json_that_reads_back_the_same() -> None:
    value = {"model": "openai", "messages": [{"role": "user", "content": "héllo 😀"}], "n": 2**70, "t": 0.1}
    encoded = json_codec.dumps(value)
    assert json.loads(encoded) == value
    assert encoded == json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
