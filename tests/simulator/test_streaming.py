"""Contract tests for server-sent-event streaming of chat completions."""

import pytest

from tests.simulator.helpers import chat_body, sse_data, sse_json, unique

pytestmark = pytest.mark.timeout(30)


def _stream(client, body, path="/v1/chat/completions"):
    return client.post(path, json={**body, "stream": True})


def test_streaming_chat_uses_the_event_stream_content_type(gen):
    response = _stream(gen, chat_body("hi"))
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"


def test_streaming_chat_starts_with_a_role_chunk(gen):
    first = sse_json(_stream(gen, chat_body("hi")).text)[0]
    assert first["object"] == "chat.completion.chunk"
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}


def test_streaming_chat_sends_one_content_chunk_per_word(gen):
    chunks = sse_json(_stream(gen, chat_body("one two three four")).text)
    contents = [c["choices"][0]["delta"]["content"] for c in chunks[1:-1]]
    assert len(contents) >= 4
    assert all(len(piece.split()) == 1 for piece in contents)


def test_streaming_chat_content_matches_the_non_streaming_answer(gen):
    body = chat_body(unique(), seed=3)
    full = gen.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]
    chunks = sse_json(_stream(gen, body).text)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == full


def test_streaming_chat_finishes_with_a_stop_chunk(gen):
    last = sse_json(_stream(gen, chat_body("hi")).text)[-1]
    assert last["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }


def test_streaming_chat_ends_with_done_marker(gen):
    assert sse_data(_stream(gen, chat_body("hi")).text)[-1] == "[DONE]"


def test_streaming_chat_sends_usage_only_when_asked(gen):
    without = sse_json(_stream(gen, chat_body("hi")).text)
    body = chat_body("hi", stream_options={"include_usage": True})
    with_usage = sse_json(_stream(gen, body).text)
    assert all("usage" not in c for c in without)
    assert with_usage[-1]["choices"] == []
    assert with_usage[-1]["usage"]["total_tokens"] > 0


def test_streaming_chat_events_are_separated_by_blank_lines(gen):
    text = _stream(gen, chat_body("hi")).text
    assert text.endswith("data: [DONE]\n\n")
    assert all(event.startswith("data: ") for event in text.strip().split("\n\n"))


def test_streaming_tool_calls_arrive_in_a_delta(gen):
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {}}}
    chunks = sse_json(_stream(gen, chat_body("call tool", tools=[tool])).text)
    calls = [c["choices"][0]["delta"]["tool_calls"] for c in chunks if "tool_calls" in c["choices"][0]["delta"]]
    assert calls[0][0]["function"]["name"] == "lookup"
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_gen_text_get_streams_with_stream_query(gen):
    response = gen.get("/text/hi", params={"stream": "true"})
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert sse_data(response.text)[-1] == "[DONE]"


def test_legacy_text_get_streams_with_stream_query(anon):
    response = anon.get("/legacy/text/hi", params={"stream": "true"})
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert sse_json(response.text)[0]["id"].startswith("pllns_")


def test_legacy_openai_streams(anon):
    assert sse_data(_stream(anon, chat_body("hi"), "/legacy/text/openai").text)[-1] == "[DONE]"
