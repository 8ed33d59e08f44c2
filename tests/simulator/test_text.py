"""Contract tests for chat completions and the text endpoints of both eras."""

import json

import pytest

from tests.simulator.helpers import chat_body, unique

pytestmark = pytest.mark.timeout(30)

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["c", "f"]},
            },
            "required": ["city"],
        },
    },
}


def test_chat_completion_has_the_openai_shape(gen):
    response = gen.post("/v1/chat/completions", json=chat_body("hello there"))
    assert response.status_code == 200
    data = response.json()
    assert data["object"] == "chat.completion"
    assert data["id"].startswith("chatcmpl-")
    assert data["model"] == "openai"
    choice = data["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert "hello there" in choice["message"]["content"]


def test_chat_usage_counts_whitespace_separated_words(gen):
    data = gen.post("/v1/chat/completions", json=chat_body("one two three")).json()
    usage = data["usage"]
    assert usage["prompt_tokens"] == 3 + 1  # three words plus one per message
    assert usage["completion_tokens"] == len(data["choices"][0]["message"]["content"].split())
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_chat_usage_is_mirrored_in_headers(gen):
    response = gen.post("/v1/chat/completions", json=chat_body("hi"))
    usage = response.json()["usage"]
    assert response.headers["x-model-used"] == "openai"
    assert int(response.headers["x-usage-prompt-text-tokens"]) == usage["prompt_tokens"]
    assert int(response.headers["x-usage-completion-text-tokens"]) == usage["completion_tokens"]


def test_chat_content_is_deterministic_for_messages_and_seed(gen):
    body = chat_body(unique(), seed=5)
    first = gen.post("/v1/chat/completions", json=body).json()
    second = gen.post("/v1/chat/completions", json=body).json()
    other_seed = gen.post("/v1/chat/completions", json={**body, "seed": 6}).json()
    assert first["choices"] == second["choices"]
    assert first["choices"] != other_seed["choices"]


def test_chat_resolves_model_aliases(gen):
    response = gen.post("/v1/chat/completions", json={**chat_body("hi"), "model": "gpt-oss"})
    assert response.json()["model"] == "openai-fast"


def test_chat_rejects_an_unknown_model(gen):
    response = gen.post("/v1/chat/completions", json={**chat_body("hi"), "model": "gpt-99"})
    assert response.status_code == 400
    assert "model" in response.json()["error"]["details"]["fieldErrors"]


def test_chat_rejects_missing_messages(gen):
    response = gen.post("/v1/chat/completions", json={"model": "openai"})
    assert response.status_code == 400
    assert "messages" in response.json()["error"]["details"]["fieldErrors"]


def test_chat_rejects_a_body_that_is_not_json(gen):
    response = gen.post("/v1/chat/completions", content=b"{nope")
    assert response.status_code == 400
    assert response.json()["success"] is False


def test_chat_calls_a_tool_when_the_trigger_phrase_appears(gen):
    body = chat_body("please call tool for Paris", tools=[WEATHER_TOOL])
    choice = gen.post("/v1/chat/completions", json=body).json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    call = choice["message"]["tool_calls"][0]
    assert call["type"] == "function"
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "simulated", "unit": "c"}


def test_chat_calls_a_tool_named_in_the_message(gen):
    body = chat_body("use get_weather now", tools=[WEATHER_TOOL])
    message = gen.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]
    assert message["tool_calls"][0]["function"]["name"] == "get_weather"
    assert message["content"] is None


def test_chat_does_not_call_tools_without_the_trigger(gen):
    body = chat_body("just talk", tools=[WEATHER_TOOL])
    assert "tool_calls" not in gen.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]


def test_chat_tool_choice_none_prevents_tool_calls(gen):
    body = chat_body("call tool", tools=[WEATHER_TOOL], tool_choice="none")
    assert "tool_calls" not in gen.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]


def test_chat_json_object_mode_returns_valid_json_content(gen):
    body = chat_body("give json", response_format={"type": "json_object"})
    content = gen.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]
    assert isinstance(json.loads(content), dict)


def test_chat_accepts_vision_parts(gen):
    parts = [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
    ]
    body = {"messages": [{"role": "user", "content": parts}]}
    content = gen.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]
    assert "I see 1 image(s)" in content


def test_openai_path_is_an_alias_of_chat_completions(gen):
    assert gen.post("/openai", json=chat_body("hi")).json()["object"] == "chat.completion"


def test_gen_text_post_returns_the_content_as_plain_text(gen):
    response = gen.post("/text", json=chat_body("plain please"))
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert "plain please" in response.text


def test_gen_text_get_returns_plain_text(gen):
    response = gen.get("/text/hello%20world")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text.startswith("You said: hello world.")


def test_gen_text_get_json_mode_returns_json_text(gen):
    assert isinstance(json.loads(gen.get("/text/hi", params={"json": "true"}).text), dict)


def test_gen_text_get_system_prompt_counts_as_a_message(gen):
    plain = gen.get("/text/hi")
    with_system = gen.get("/text/hi", params={"system": "be brief"})
    assert (
        int(with_system.headers["x-usage-prompt-text-tokens"]) == int(plain.headers["x-usage-prompt-text-tokens"]) + 3
    )


def test_gen_text_get_validates_parameters(gen):
    response = gen.get("/text/hi", params={"json": "maybe", "temperature": "hot"})
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]["fieldErrors"]) == {"json", "temperature"}


def test_legacy_text_get_returns_plain_text_anonymously(anon):
    response = anon.get("/legacy/text/hello%20legacy")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert "hello legacy" in response.text


def test_legacy_text_post_root_returns_plain_text(anon):
    response = anon.post("/legacy/text/", json=chat_body("posted"))
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert "posted" in response.text


def test_legacy_text_post_root_without_messages_is_refused(anon):
    response = anon.post("/legacy/text/", json={"model": "openai"})
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid messages array"}


def test_legacy_openai_completion_has_legacy_quirks(anon):
    data = anon.post("/legacy/text/openai", json=chat_body("hi")).json()
    assert data["id"].startswith("pllns_")
    assert len(data["id"]) == 6 + 32
    assert data["created"] > 10**12  # milliseconds
    assert data["user_tier"] == "anonymous"


@pytest.mark.parametrize("path", ["/legacy/text/openai/chat/completions", "/legacy/text/v1/chat/completions"])
def test_legacy_openai_aliases_answer_chat_completions(anon, path):
    assert anon.post(path, json=chat_body("hi")).json()["object"] == "chat.completion"


def test_legacy_json_mode_flag_returns_json_content(anon):
    body = chat_body("json please", jsonMode=True)
    content = anon.post("/legacy/text/openai", json=body).json()["choices"][0]["message"]["content"]
    assert isinstance(json.loads(content), dict)


def test_legacy_text_root_redirects_to_the_docs(anon):
    response = anon.get("/legacy/text/")
    assert response.status_code == 301
    assert "APIDOCS" in response.headers["location"]


def test_legacy_text_unknown_model_is_not_found(anon):
    response = anon.get("/legacy/text/hi", params={"model": "nope"})
    assert response.status_code == 404
    assert response.json() == {"error": "Model not found: nope", "status": 404}


def test_legacy_text_tier_gated_model_needs_payment(anon):
    refused = anon.get("/legacy/text/hi", params={"model": "openai-large"})
    allowed = anon.get("/legacy/text/hi", params={"model": "openai-large", "token": "flower_abc"})
    assert refused.status_code == 402
    assert refused.json()["status"] == 402
    assert allowed.status_code == 200
