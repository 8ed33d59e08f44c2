"""Contract tests for the image endpoints of both eras."""

import base64
import io

import httpx
import pytest
from PIL import Image

from tests.simulator.helpers import unique

pytestmark = pytest.mark.timeout(30)


def _image(response: httpx.Response) -> Image.Image:
    return Image.open(io.BytesIO(response.content))


def test_gen_image_is_a_jpeg_of_the_requested_size(gen):
    response = gen.get(f"/image/{unique()}", params={"width": 320, "height": 200})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    image = _image(response)
    assert image.format == "JPEG"
    assert image.size == (320, 200)


def test_gen_image_defaults_to_1024_square(gen):
    assert _image(gen.get(f"/image/{unique()}")).size == (1024, 1024)


def test_gen_image_is_deterministic_for_the_same_seed(gen):
    prompt = unique()
    params = {"width": 64, "height": 64, "seed": 7}
    assert gen.get(f"/image/{prompt}", params=params).content == gen.get(f"/image/{prompt}", params=params).content


def test_gen_image_changes_with_the_seed(gen):
    prompt = unique()
    first = gen.get(f"/image/{prompt}", params={"width": 64, "height": 64, "seed": 1})
    second = gen.get(f"/image/{prompt}", params={"width": 64, "height": 64, "seed": 2})
    assert first.content != second.content


def test_gen_image_seed_minus_one_gives_new_bytes_each_time(gen):
    prompt = unique()
    params = {"width": 64, "height": 64, "seed": -1}
    assert gen.get(f"/image/{prompt}", params=params).content != gen.get(f"/image/{prompt}", params=params).content


def test_gen_transparent_image_is_an_rgba_png(gen):
    response = gen.get(f"/image/{unique()}", params={"width": 40, "height": 30, "transparent": "true"})
    assert response.headers["content-type"] == "image/png"
    image = _image(response)
    assert (image.format, image.mode, image.size) == ("PNG", "RGBA", (40, 30))


def test_gen_image_carries_cache_and_model_headers(gen):
    response = gen.get("/image/A red fox", params={"width": 32, "height": 32, "model": "turbo"})
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["content-disposition"] == 'inline; filename="a-red-fox.jpg"'
    assert response.headers["x-model-used"] == "turbo"


def test_gen_image_prompt_keeps_encoded_slashes(gen):
    response = gen.get("/image/a%2Fb%3Fc", params={"width": 32, "height": 32})
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'inline; filename="a-b-c.jpg"'


def test_gen_image_rejects_bad_parameters_with_field_errors(gen):
    response = gen.get("/image/cat", params={"width": "wide", "model": "nope", "seed": "-5"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "BAD_REQUEST"
    assert set(error["details"]["fieldErrors"]) == {"width", "model", "seed"}


def test_gen_image_rejects_sides_above_the_simulator_bound(gen):
    response = gen.get("/image/cat", params={"width": 4096})
    assert response.status_code == 400
    assert "width" in response.json()["error"]["details"]["fieldErrors"]


def test_gen_image_rejects_non_http_reference_images(gen):
    response = gen.get("/image/cat", params={"image": "ftp://example.com/a.png"})
    assert response.json()["error"]["details"]["fieldErrors"]["image"]


def test_legacy_image_parses_leniently(anon):
    response = anon.get(
        f"/legacy/image/prompt/{unique()}",
        params={"width": "64", "height": "x", "model": "nope", "nologo": "yes"},
    )
    assert response.status_code == 200
    assert response.headers["x-model-used"] == "flux"
    assert _image(response).size == (64, 1024)


def test_legacy_image_invalid_seed_means_seed_42(anon):
    prompt = unique()
    params = {"width": 32, "height": 32}
    bad_seed = anon.get(f"/legacy/image/prompt/{prompt}", params={**params, "seed": "abc"})
    seed_42 = anon.get(f"/legacy/image/prompt/{prompt}", params={**params, "seed": "42"})
    assert bad_seed.content == seed_42.content


def test_legacy_image_shrinks_oversized_requests_keeping_the_aspect(anon):
    response = anon.get(f"/legacy/image/prompt/{unique()}", params={"width": 4096, "height": 1024})
    assert _image(response).size == (2048, 512)


def test_legacy_image_reports_auth_status(anon):
    prompt = unique()
    anonymous = anon.get(f"/legacy/image/prompt/{prompt}", params={"width": 16, "height": 16})
    with_token = anon.get(f"/legacy/image/prompt/{prompt}", params={"width": 16, "height": 16, "token": "abc"})
    assert anonymous.headers["x-auth-status"] == "unauthenticated"
    assert with_token.headers["x-auth-status"] == "authenticated"


def test_legacy_transparent_image_is_png_labelled_jpeg(anon):
    response = anon.get(
        f"/legacy/image/prompt/{unique()}",
        params={"width": 16, "height": 16, "transparent": "true"},
    )
    assert response.headers["content-type"] == "image/jpeg"
    assert _image(response).format == "PNG"


def test_legacy_image_tier_gated_model_needs_a_higher_tier(anon):
    params = {"model": "gptimage", "width": 16, "height": 16}
    refused = anon.get(f"/legacy/image/prompt/{unique()}", params=params)
    allowed = anon.get(f"/legacy/image/prompt/{unique()}", params={**params, "token": "nectar_abc"})
    assert refused.status_code == 402
    assert refused.json()["error"] == "Payment Required"
    assert allowed.status_code == 200


def test_images_generations_returns_b64_json_by_default(gen):
    response = gen.post("/v1/images/generations", json={"prompt": unique(), "size": "48x24"})
    assert response.status_code == 200
    item = response.json()["data"][0]
    assert Image.open(io.BytesIO(base64.b64decode(item["b64_json"]))).size == (48, 24)


def test_images_generations_can_return_a_url(gen):
    response = gen.post("/v1/images/generations", json={"prompt": "a cat", "response_format": "url"})
    assert response.json()["data"][0]["url"].startswith("http://")


def test_images_generations_refuses_more_than_one_image(gen):
    response = gen.post("/v1/images/generations", json={"prompt": "a cat", "n": 2})
    assert response.status_code == 400
    assert "n" in response.json()["error"]["details"]["fieldErrors"]


def test_images_generations_requires_a_prompt(gen):
    response = gen.post("/v1/images/generations", json={"size": "64x64"})
    assert "prompt" in response.json()["error"]["details"]["fieldErrors"]


def test_images_edits_accepts_json_image_urls(gen):
    body = {"prompt": unique(), "image": ["https://example.com/a.png"], "size": "32x32"}
    response = gen.post("/v1/images/edits", json=body)
    assert response.status_code == 200
    assert response.json()["data"][0]["b64_json"]


def test_images_edits_accepts_multipart_uploads(gen):
    files = {"image": ("a.png", b"\x89PNG fake bytes", "image/png")}
    data = {"prompt": unique(), "size": "32x16"}
    response = gen.post("/v1/images/edits", files=files, data=data)
    assert response.status_code == 200
    image = base64.b64decode(response.json()["data"][0]["b64_json"])
    assert Image.open(io.BytesIO(image)).size == (32, 16)


def test_images_edits_requires_an_image(gen):
    response = gen.post("/v1/images/edits", json={"prompt": "a cat"})
    assert response.status_code == 400
    assert "image" in response.json()["error"]["details"]["fieldErrors"]
