"""Contract tests for model lists, CORS, unknown paths and feeds."""

import json

import pytest

from tests.simulator.conftest import RESTRICTED_KEY
from tests.simulator.helpers import unique

pytestmark = pytest.mark.timeout(30)

NO_STORE = "no-store, no-cache, must-revalidate, proxy-revalidate"


@pytest.mark.parametrize("path", ["/image/models", "/text/models", "/audio/models", "/models"])
def test_gen_model_lists_are_public_model_info_arrays(anon, path):
    response = anon.get(path)
    assert response.status_code == 200
    assert response.headers["cache-control"] == NO_STORE
    models = response.json()
    assert isinstance(models, list)
    assert models
    assert {"name", "aliases", "pricing", "input_modalities", "output_modalities"} <= set(models[0])


def test_gen_v1_models_is_an_openai_list(anon):
    data = anon.get("/v1/models").json()
    assert data["object"] == "list"
    assert {m["id"] for m in data["data"]} >= {"openai", "flux", "whisper-large-v3"}
    assert data["data"][0]["object"] == "model"


def test_a_restricted_key_sees_only_its_models(anon):
    models = anon.get("/text/models", headers={"Authorization": f"Bearer {RESTRICTED_KEY}"}).json()
    assert [m["name"] for m in models] == ["openai"]


@pytest.mark.parametrize(
    ("params", "community"),
    [({"source": "community"}, True), ({"source": "official"}, False), ({"community": "1"}, True)],
)
def test_gen_model_lists_filter_by_source(anon, params, community):
    models = anon.get("/text/models", params=params).json()
    assert models
    assert {m["community"] for m in models} == {community}


def test_legacy_image_models_are_a_string_array_without_nectar_models(anon):
    response = anon.get("/legacy/image/models")
    assert response.headers["pragma"] == "no-cache"
    models = response.json()
    assert "flux" in models
    assert "gptimage" not in models
    assert all(isinstance(m, str) for m in models)


def test_legacy_text_models_list_official_models_first(anon):
    models = anon.get("/legacy/text/models").json()
    assert {"name", "description", "tier", "community", "tools", "vision", "audio"} <= set(models[0])
    community = [m["community"] for m in models]
    assert community == sorted(community)


def test_legacy_openai_models_is_an_openai_list(anon):
    assert anon.get("/legacy/text/openai/models").json()["object"] == "list"


def test_legacy_image_about_lists_models(anon):
    assert anon.get("/legacy/image/about").json()[0]["maxSideLength"] == 2048


@pytest.mark.parametrize("path", ["/text/models", "/v1/nothing", "/legacy/image/x", "/legacy/text/hi"])
def test_every_response_allows_any_origin(anon, path):
    assert anon.get(path).headers["access-control-allow-origin"] == "*"


def test_preflight_requests_are_answered(anon):
    response = anon.options(
        "/v1/chat/completions",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-headers"] == "authorization"


def test_unknown_legacy_image_paths_are_json_404s(anon):
    response = anon.get("/legacy/image/elsewhere")
    assert response.status_code == 404
    assert response.json() == {
        "error": "Not Found",
        "message": "The requested endpoint was not found",
        "path": "/elsewhere",
    }


def test_unknown_gen_paths_use_the_envelope(gen):
    response = gen.get("/v2/whatever")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_wrong_methods_on_gen_paths_are_405(gen):
    assert gen.get("/v1/chat/completions").status_code == 405


def _feed_events(client, path, until):
    """Read feed events until one contains ``until``; return them all."""
    events = []
    with client.stream("GET", path) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        buffer = ""
        for line in response.iter_lines():
            if line.startswith("data: "):
                buffer += line[6:] + "\n"
            elif not line and buffer:
                events.append(json.loads(buffer))
                buffer = ""
                if until in json.dumps(events[-1]):
                    return events
    return events


def test_legacy_image_feed_replays_public_generations(anon):
    private, public = unique("private"), unique("public")
    anon.get(f"/legacy/image/prompt/{private}", params={"width": 16, "height": 16, "private": "true"})
    anon.get(f"/legacy/image/prompt/{public}", params={"width": 16, "height": 16})
    events = _feed_events(anon, "/legacy/image/feed", public)
    assert events[-1]["prompt"] == public
    assert events[-1]["imageURL"].startswith("https://image.pollinations.ai/prompt/")
    assert all(e["prompt"] != private for e in events)


def test_legacy_text_feed_replays_public_generations(anon):
    private, public = unique("private"), unique("public")
    anon.get(f"/legacy/text/{private}", params={"private": "true"})
    anon.get(f"/legacy/text/{public}")
    events = _feed_events(anon, "/legacy/text/feed", public)
    assert public in events[-1]["response"]
    assert all(private not in json.dumps(e) for e in events)
