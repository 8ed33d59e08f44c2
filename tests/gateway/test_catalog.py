"""The dashboard's model pickers: what the live registry serves, per operation."""

from __future__ import annotations

import pytest

from gateway.catalog import model_catalog

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_chat_picker_starts_with_a_text_model_and_offers_only_models_that_chat(gateway_settings):
    catalog = await model_catalog(["chat", "speech", "transcription"])
    assert catalog["chat"][0] == "openai"
    assert "openai-audio" in catalog["chat"]  # it chats too, after the text models
    assert catalog["chat"].index("openai-audio") > catalog["chat"].index("deepseek-reasoning")
    assert not {"whisper-large-v3", "elevenlabs"} & set(catalog["chat"])
    assert catalog["transcription"] == ["whisper-large-v3"]
    assert {"openai-audio", "elevenlabs"} <= set(catalog["speech"])


async def test_a_plan_s_list_limits_every_picker(gateway_settings):
    catalog = await model_catalog(["chat", "image"], allowed=["mistral", "flux"])
    assert catalog == {"chat": ["mistral"], "image": ["flux"]}
