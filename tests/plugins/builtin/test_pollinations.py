"""Usage reported by Pollinations: an OpenAI ``usage`` object at the end of the body (whole or streamed), the
``x-usage-*`` headers, images counted by the request, speech by its input; anything else reports nothing,
and nothing it is handed makes it raise."""

from __future__ import annotations

import json
from typing import Any

import pytest

from plugins.builtin.pollinations import (
    AUDIO_MODELS,
    DEFAULT_PRICES,
    IMAGE_MODELS,
    TEXT_MODELS,
    PollinationsAudioProvider,
    PollinationsImageProvider,
    PollinationsTextProvider,
)
from plugins.types import Provider, ProviderCall, ProviderSettings, Usage

COMPLETION = {
    "id": "c1",
    "object": "chat.completion",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Blue."}, "finish_reason": "stop"}],
    "usage": {
        "prompt_tokens": 12,
        "completion_tokens": 3,
        "total_tokens": 15,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    },
}
STREAM_TAIL = (
    b'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"Blue."}}],"usage":null}\n\n'
    b'data: {"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}\n\n'
    b'data: {"id":"c1","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}\n\n'
    b"data: [DONE]\n\n"
)


def provider(cls: type[Provider]) -> Provider:
    return cls(ProviderSettings(name=cls.kind, kind=cls.kind, base_url="http://gen.invalid"))


TEXT = provider(PollinationsTextProvider)
IMAGE = provider(PollinationsImageProvider)
AUDIO = provider(PollinationsAudioProvider)


def call(operation: str = "chat", modality: str = "text", payload: dict[str, Any] | None = None, **fields: Any):
    if payload is None and operation == "chat":
        payload = {"model": "openai", "messages": [{"role": "user", "content": "A colour?"}]}
    return ProviderCall(
        operation=operation,  # type: ignore[arg-type]
        model=fields.pop("model", "openai"),
        modality=modality,  # type: ignore[arg-type]
        request_id="r",
        payload=payload,
        **fields,
    )


def text_usage(tail: bytes, headers: list[tuple[str, str]] | None = None) -> Usage | None:
    return TEXT.usage(call(), 200, headers or [], tail)


# --- text ------------------------------------------------------------------------------------------


def test_a_json_answer_reports_its_usage_object():
    assert text_usage(json.dumps(COMPLETION).encode()) == Usage(input_tokens=12, output_tokens=3, source="upstream")


def test_a_stream_reports_the_usage_of_its_final_usage_chunk_not_the_nulls_before_it():
    assert text_usage(STREAM_TAIL) == Usage(input_tokens=12, output_tokens=3)


def test_the_last_usage_object_in_the_tail_wins():
    earlier = b'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}\n\n'

    assert text_usage(earlier + STREAM_TAIL) == Usage(input_tokens=12, output_tokens=3)


def test_a_tail_that_starts_inside_an_earlier_object_still_finds_the_final_usage():
    body = json.dumps(COMPLETION).encode()

    assert text_usage(body[body.index(b'"content"') + 3 :]) == Usage(input_tokens=12, output_tokens=3)


def test_a_tail_that_cuts_the_usage_object_in_half_reports_nothing_rather_than_half():
    usage_at = STREAM_TAIL.index(b'"usage":{')

    assert text_usage(STREAM_TAIL[usage_at + 12 :]) is None
    assert text_usage(STREAM_TAIL[: usage_at + 30]) is None


def test_usage_headers_are_read_when_the_body_has_no_usage_object():
    headers = [("X-Usage-Prompt-Text-Tokens", "9"), ("x-usage-completion-text-tokens", "4"), ("x-model-used", "openai")]

    assert text_usage(b'{"choices":[]}', headers) == Usage(input_tokens=9, output_tokens=4)


def test_a_usage_object_in_the_body_takes_precedence_over_the_headers():
    headers = [("x-usage-prompt-text-tokens", "9"), ("x-usage-completion-text-tokens", "4")]

    assert text_usage(json.dumps(COMPLETION).encode(), headers) == Usage(input_tokens=12, output_tokens=3)


def test_a_text_answer_without_usage_reports_none_so_the_gateway_counts_it():
    assert text_usage(b'{"choices":[{"message":{"content":"Blue."}}]}') is None


@pytest.mark.parametrize(
    "tail",
    [
        b"",
        b"\x00\xff\xfe garbage \x80",
        b'"usage":{"prompt_tokens":"many","completion_tokens":3}',
        b'"usage":{"prompt_tokens":[1],"completion_tokens":{}}',
        b'"usage":{not json at all}',
        b'"usage": null',
        b"<html>502 Bad Gateway</html>",
    ],
)
def test_garbage_reports_none_and_never_raises(tail):
    assert text_usage(tail) is None


@pytest.mark.parametrize("value", ["", "-3", "4.5", "lots"])
def test_usage_headers_that_are_not_whole_numbers_are_ignored(value):
    assert text_usage(b"", [("x-usage-prompt-text-tokens", value)]) is None


def test_a_usage_header_with_a_non_decimal_digit_is_ignored_too():
    assert text_usage(b"", [("x-usage-prompt-text-tokens", "\u00b2")]) is None


# --- images and audio ------------------------------------------------------------------------------


def test_an_image_answer_reports_the_images_asked_for():
    one = call("image", "image", {"prompt": "a cat"}, model="flux")
    four = call("image", "image", {"prompt": "a cat", "n": 4}, model="flux")

    assert IMAGE.usage(one, 200, [], b"\x89PNG") == Usage(images=1)
    assert IMAGE.usage(four, 200, [], b"\x89PNG") == Usage(images=4)


def test_a_native_image_url_reports_one_image():
    native = call("native", "image", None, model="flux", method="GET", raw_path="/prompt/a%20cat", host="image")

    assert IMAGE.usage(native, 200, [("x-usage-completion-image-tokens", "1")], b"\xff\xd8") == Usage(images=1)


def test_speech_reports_the_characters_of_its_input():
    speech = call("speech", "audio", {"input": "Hello there.", "voice": "alloy"}, model="openai-audio")

    assert AUDIO.usage(speech, 200, [("x-usage-completion-audio-seconds", "1.2")], b"ID3") == Usage(characters=12)


def test_a_transcription_reports_the_audio_seconds_the_upstream_measured():
    transcription = call(
        "transcription", "audio", None, model="whisper-large-v3", body=b"RIFF", content_type="audio/wav"
    )

    usage = AUDIO.usage(transcription, 200, [("x-usage-prompt-audio-seconds", "12.5")], b'{"text":"hello"}')

    assert usage is not None and usage.audio_seconds == 12.5


@pytest.mark.parametrize("pollinations", [TEXT, IMAGE, AUDIO], ids=lambda p: p.kind)
def test_every_model_of_the_catalogue_has_a_default_price(pollinations):
    """A model without one would be served free until an operator noticed (elevenlabs once was)."""
    priced = {rule.model for rule in pollinations.prices()}
    assert {model.id for model in pollinations.models()} <= priced


#: What one small call of each operation consumes; a native call consumes what its model's modality does.
_ONE_CALL = {
    "chat": Usage(input_tokens=10, output_tokens=10),
    "image": Usage(images=1),
    "speech": Usage(characters=10),
    "transcription": Usage(audio_seconds=1.0),
}
_NATIVE_AS = {"text": "chat", "image": "image", "audio": "speech"}


@pytest.mark.parametrize("model", [*TEXT_MODELS, *IMAGE_MODELS, *AUDIO_MODELS], ids=lambda model: model.id)
def test_no_operation_a_model_serves_is_free_by_default(model):
    """A chat through openai-audio was priced per character only: its tokens cost nothing."""
    [rule] = [rule for rule in DEFAULT_PRICES if rule.model == model.id]
    for operation in model.operations:
        usage = _ONE_CALL[_NATIVE_AS[model.modality] if operation == "native" else operation]
        cost = (
            usage.input_tokens * rule.per_1k_input_tokens
            + usage.output_tokens * rule.per_1k_output_tokens
            + usage.images * rule.per_image
            + usage.audio_seconds * rule.per_audio_second
            + usage.characters * rule.per_1k_characters
        )
        assert cost > 0, operation
