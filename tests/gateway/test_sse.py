"""The usage-only event is removed from chat streams however the upstream's reads cut it."""

from __future__ import annotations

import json

import pytest

from gateway.sse import MAX_HELD_BYTES, UsageEventFilter

CHUNK = b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
STOP = b'data: {"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}\n\n'
USAGE = b'data: {"id":"c1","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}\n\n'
DONE = b"data: [DONE]\n\n"
STREAM = CHUNK + STOP + USAGE + DONE
EXPECTED = CHUNK + STOP + DONE


def _filtered(pieces: list[bytes]) -> bytes:
    usage_filter = UsageEventFilter()
    return b"".join(usage_filter.feed(piece) for piece in pieces) + usage_filter.end()


@pytest.mark.parametrize("split", range(len(STREAM) + 1))
def test_the_usage_event_is_removed_whatever_byte_the_stream_is_split_at(split):
    assert _filtered([STREAM[:split], STREAM[split:]]) == EXPECTED


def test_the_usage_event_is_removed_when_it_is_split_at_every_pair_of_bytes():
    start = len(CHUNK + STOP)
    end = start + len(USAGE)
    for first in range(start, end):
        for second in range(first, end + 1):
            assert _filtered([STREAM[:first], STREAM[first:second], STREAM[second:]]) == EXPECTED, (first, second)


def test_a_stream_fed_one_byte_at_a_time_loses_only_the_usage_event():
    assert _filtered([bytes([b]) for b in STREAM]) == EXPECTED


def test_crlf_separated_events_are_recognised_too():
    stream = STREAM.replace(b"\n\n", b"\r\n\r\n")
    assert _filtered([stream[:150], stream[150:]]) == EXPECTED.replace(b"\n\n", b"\r\n\r\n")


def test_complete_events_are_handed_on_at_once_and_only_the_incomplete_rest_waits():
    usage_filter = UsageEventFilter()
    assert usage_filter.feed(CHUNK + STOP[:10]) == CHUNK
    assert usage_filter.feed(STOP[10:]) == STOP


def test_events_that_mention_usage_but_carry_choices_are_kept():
    event = b'data: {"choices":[{"delta":{"content":"\\"usage\\""}}],"usage":{"total_tokens":1}}\n\n'
    assert _filtered([event[:20], event[20:]]) == event
    assert json.loads(event[6:])["choices"]


def test_an_endless_unterminated_event_is_passed_on_rather_than_held():
    usage_filter = UsageEventFilter()
    big = b"data: " + b"x" * MAX_HELD_BYTES
    assert usage_filter.feed(big) == big
    assert usage_filter.end() == b""
