"""SSE framing: the usage-only event is removed however the upstream's reads cut it; broken events end the stream."""

from __future__ import annotations

import json

import pytest

from gateway.sse import MAX_EVENT_BYTES, EventStream, generated_characters

CHUNK = b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
STOP = b'data: {"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}\n\n'
USAGE = b'data: {"id":"c1","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}\n\n'
DONE = b"data: [DONE]\n\n"
STREAM = CHUNK + STOP + USAGE + DONE
EXPECTED = CHUNK + STOP + DONE


def _filtered(pieces: list[bytes]) -> bytes:
    usage_filter = EventStream(strip_usage=True)
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


def test_crlf_separated_events_are_recognised_too_and_relayed_with_plain_newlines():
    stream = STREAM.replace(b"\n\n", b"\r\n\r\n")
    assert _filtered([stream[:150], stream[150:]]) == EXPECTED


def test_complete_events_are_handed_on_at_once_and_only_the_incomplete_rest_waits():
    usage_filter = EventStream(strip_usage=True)
    assert usage_filter.feed(CHUNK + STOP[:10]) == CHUNK
    assert usage_filter.feed(STOP[10:]) == STOP


def test_events_that_mention_usage_but_carry_choices_are_kept():
    event = b'data: {"choices":[{"delta":{"content":"\\"usage\\""}}],"usage":{"total_tokens":1}}\n\n'
    assert _filtered([event[:20], event[20:]]) == event
    assert json.loads(event[6:])["choices"]


def test_an_endless_unterminated_event_breaks_the_stream_instead_of_being_held_or_relayed():
    events = EventStream()
    assert events.feed(b"data: " + b"x" * MAX_EVENT_BYTES) == b""
    assert events.failed is not None and events.failed.status == 502


def test_an_event_that_is_not_json_ends_the_stream_after_the_good_events_before_it():
    events = EventStream()
    assert events.feed(CHUNK + b'data: {"choices":[{"delta":\n\n' + STOP) == CHUNK
    assert events.failed.code == "upstream_error"


def test_an_error_object_event_ends_the_stream_and_is_not_relayed():
    events = EventStream()
    assert events.feed(CHUNK + b'data: {"error":{"message":"overloaded"}}\n\n') == CHUNK
    assert events.failed is not None


def test_generated_text_is_counted_from_the_deltas_only():
    events = EventStream()
    events.feed(CHUNK + STOP + USAGE + DONE)
    assert events.characters == len("hi")
    assert events.done


CRLF_STREAM = STREAM.replace(b"\n\n", b"\r\n\r\n")


def test_crlf_events_are_recognised_whatever_byte_the_stream_is_split_at():
    # Including between a "\r" and its "\n".
    for split in range(len(CRLF_STREAM) + 1):
        assert _filtered([CRLF_STREAM[:split], CRLF_STREAM[split:]]) == EXPECTED, split


def test_crlf_events_fed_one_byte_at_a_time_are_relayed_with_plain_newlines():
    assert _filtered([bytes([b]) for b in CRLF_STREAM]) == EXPECTED


BROKEN = b'data: {"choices":[{"delta":{"content":"cut\n\n'
BROKEN_STREAM = CHUNK + CHUNK + BROKEN + STOP + DONE


def test_a_broken_event_ends_the_stream_after_exactly_the_good_events_whatever_the_split():
    for split in range(len(BROKEN_STREAM) + 1):
        events = EventStream()
        relayed = events.feed(BROKEN_STREAM[:split])
        if events.failed is None:
            relayed += events.feed(BROKEN_STREAM[split:])

        assert relayed == CHUNK + CHUNK, split
        assert events.failed is not None and events.failed.status == 502, split
        assert events.characters == 2 * len("hi"), split


def test_the_usage_event_is_kept_when_the_client_asked_for_it():
    events = EventStream(strip_usage=False)

    assert events.feed(STREAM) + events.end() == STREAM


def test_an_unterminated_last_event_is_relayed_when_the_upstream_ends_cleanly():
    events = EventStream()
    relayed = events.feed(CHUNK + b"data: [DONE]")

    assert relayed + events.end() == CHUNK + b"data: [DONE]"
    assert events.done and events.failed is None


def test_an_unterminated_broken_last_event_is_not_relayed_and_fails_the_stream_at_the_end():
    events = EventStream()
    relayed = events.feed(CHUNK + b'data: {"choices":[{"delta":{"content":"ha')

    assert relayed + events.end() == CHUNK
    assert events.failed is not None
    assert not events.done


def test_comments_and_keep_alives_are_relayed_and_count_no_text():
    keep_alive = b": keep-alive\n\n"
    events = EventStream()

    assert events.feed(keep_alive + CHUNK + keep_alive) == keep_alive + CHUNK + keep_alive
    assert events.characters == len("hi")
    assert events.failed is None


def test_an_event_whose_data_spans_several_lines_is_judged_as_one_json_document():
    event = b'event: message\nid: 7\ndata: {"choices":[{"delta":\ndata: {"content":"multi"}}]}\n\n'
    events = EventStream()

    assert events.feed(event) == event
    assert events.failed is None
    assert events.characters == len("multi")


def test_a_chunk_carrying_choices_and_an_error_field_is_not_mistaken_for_an_error():
    event = b'data: {"choices":[{"delta":{"content":"ok"}}],"error":null}\n\n'
    events = EventStream()

    assert events.feed(event) == event
    assert events.failed is None


def test_reasoning_and_tool_call_arguments_count_as_generated_text():
    chunk = {
        "choices": [
            {
                "delta": {
                    "content": "ab",
                    "reasoning_content": "think",
                    "tool_calls": [{"function": {"name": "lookup", "arguments": '{"q":1}'}}, {"function": {}}],
                }
            },
            "not a choice",
            {"delta": None},
        ]
    }

    assert generated_characters(chunk) == len("ab") + len("think") + len('{"q":1}')
