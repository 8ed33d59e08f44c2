"""The result cache: only deterministic requests get a key, the key covers what changes the output, and only
whole successful answers up to the size bound are kept (on the configured cache: Redis when REDIS_URL is set)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from django.core.cache import cache

from gateway.result_cache import MAX_ENTRY_BYTES, CachedAnswer, cache_key, lookup, store
from plugins.types import ProviderCall

PROVIDER = "pollinations-text"


def chat(*, stream: bool = False, **params: Any) -> ProviderCall:
    payload = {"model": "openai", "messages": [{"role": "user", "content": "Name a colour."}], **params}
    return ProviderCall(
        operation="chat", model="openai", modality="text", request_id="r", payload=payload, stream=stream
    )


def native(query: str, *, path: str = "/prompt/a%20cat", method: str = "GET") -> ProviderCall:
    return ProviderCall(
        operation="native",
        model="flux",
        modality="image",
        request_id="r",
        method=method,
        raw_path=path,
        raw_query=query,
        host="image",
    )


# --- which calls get a key -------------------------------------------------------------------------


def test_a_request_with_an_explicit_seed_is_cacheable():
    key = cache_key(chat(seed=42), PROVIDER)

    assert key is not None and key.startswith("result:")


@pytest.mark.parametrize("seed", [0, 7, "7"])
def test_any_explicit_seed_counts_zero_included(seed):
    assert cache_key(chat(seed=seed), PROVIDER) is not None


@pytest.mark.parametrize("params", [{}, {"seed": None}, {"seed": ""}, {"seed": -1}, {"seed": "-1"}])
def test_a_request_without_a_fixed_seed_is_never_cached(params):
    # A random seed (none, or Pollinations' "-1") makes every answer different.
    assert cache_key(chat(temperature=0, **params), PROVIDER) is None


def test_a_streamed_request_is_never_cached():
    assert cache_key(chat(stream=True, seed=42), PROVIDER) is None


@pytest.mark.parametrize("private", [True, "true", "TRUE", "1", 1])
def test_a_request_marked_private_in_its_body_is_never_cached(private):
    assert cache_key(chat(seed=42, private=private), PROVIDER) is None


def test_a_request_marked_private_by_header_is_never_cached():
    assert cache_key(chat(seed=42), PROVIDER, private_header=True) is None


def test_a_native_get_with_a_seed_is_cacheable_and_private_or_seedless_ones_are_not():
    assert cache_key(native("seed=3&width=512"), "pollinations-image") is not None
    assert cache_key(native("width=512"), "pollinations-image") is None
    assert cache_key(native("seed=-1"), "pollinations-image") is None
    assert cache_key(native("seed=3&private=true"), "pollinations-image") is None


def test_a_native_post_or_an_upload_is_never_cached():
    assert cache_key(native("seed=3", method="POST"), "pollinations-image") is None
    upload = ProviderCall(
        operation="transcription", model="whisper-1", modality="audio", request_id="r", body=b"RIFF", stream=False
    )
    assert cache_key(upload, "pollinations-audio") is None


# --- what the key covers ---------------------------------------------------------------------------


def test_equal_requests_get_equal_keys_whatever_the_order_of_their_parameters():
    first = chat(seed=42, temperature=0.2, max_tokens=20)
    assert first.payload is not None
    second = ProviderCall(
        operation="chat",
        model="openai",
        modality="text",
        request_id="another-request",
        payload=dict(reversed(list(first.payload.items()))),
    )
    assert list(first.payload) != list(second.payload)

    assert cache_key(first, PROVIDER) == cache_key(second, PROVIDER)


@pytest.mark.parametrize(
    "change",
    [
        {"seed": 43},
        {"temperature": 0.9},
        {"max_tokens": 21},
        {"messages": [{"role": "user", "content": "Name a fruit."}]},
        {"response_format": {"type": "json_object"}},
    ],
)
def test_a_different_parameter_gives_a_different_key(change):
    base = {"seed": 42, "temperature": 0.2, "max_tokens": 20}

    assert cache_key(chat(**base), PROVIDER) != cache_key(chat(**{**base, **change}), PROVIDER)


def test_the_provider_model_and_operation_are_part_of_the_key():
    call = chat(seed=42)
    other_model = chat(seed=42)
    other_model.model = "mistral"

    keys = {
        cache_key(call, PROVIDER),
        cache_key(call, "another-provider"),
        cache_key(other_model, PROVIDER),
        cache_key(native("seed=42"), PROVIDER),
    }
    assert len(keys) == 4


def test_each_organisation_has_its_own_entries():
    ours, theirs = chat(seed=42), chat(seed=42)
    ours.organization_id, theirs.organization_id = 1, 2

    assert cache_key(ours, PROVIDER) != cache_key(theirs, PROVIDER)


@pytest.mark.parametrize("ignored", [{"user": "alice"}, {"key": "sk-1"}, {"token": "t"}, {"referrer": "app"}])
def test_parameters_that_do_not_change_the_output_do_not_split_the_cache(ignored):
    assert cache_key(chat(seed=42, **ignored), PROVIDER) == cache_key(chat(seed=42), PROVIDER)


def test_native_keys_cover_the_path_and_query_but_not_the_callers_key():
    key = cache_key(native("seed=3&width=512"), "pollinations-image")

    assert cache_key(native("width=512&seed=3"), "pollinations-image") == key
    assert cache_key(native("seed=3&width=512&key=sk-abc"), "pollinations-image") == key
    assert cache_key(native("seed=3&width=1024"), "pollinations-image") != key
    assert cache_key(native("seed=3&width=512", path="/prompt/a%20dog"), "pollinations-image") != key


# --- storing and finding answers -------------------------------------------------------------------


@pytest.fixture
async def key() -> AsyncIterator[str]:
    """A key of this test alone, removed from the cache afterwards."""
    key = f"result:test-{uuid.uuid4().hex}"
    yield key
    await cache.adelete(key)


def answer(body: bytes = b'{"choices":[]}', status: int = 200) -> CachedAnswer:
    return CachedAnswer(status, "application/json", (("x-model-used", "openai"),), body)


async def test_a_stored_answer_is_found_again_whole(key):
    await store(key, answer(b'{"choices":[{"message":{"content":"blue"}}]}'))

    assert await lookup(key) == answer(b'{"choices":[{"message":{"content":"blue"}}]}')


async def test_an_unknown_key_finds_nothing(key):
    assert await lookup(key) is None


@pytest.mark.parametrize("status", [400, 429, 500, 502])
async def test_errors_are_never_stored(key, status):
    await store(key, answer(b'{"error":{"message":"no"}}', status=status))

    assert await lookup(key) is None


async def test_an_answer_at_the_size_bound_is_stored_and_one_byte_more_is_not(key):
    await store(key, answer(b"x" * MAX_ENTRY_BYTES))
    assert (await lookup(key)) is not None

    await cache.adelete(key)
    await store(key, answer(b"x" * (MAX_ENTRY_BYTES + 1)))
    assert await lookup(key) is None


async def test_an_unreachable_cache_is_a_miss_and_storing_into_it_is_skipped(key, unreachable_cache):
    """The cache only saves work: while Redis is down a deterministic request is answered uncached (it was a 500)."""
    await store(key, answer())
    assert await lookup(key) is None
