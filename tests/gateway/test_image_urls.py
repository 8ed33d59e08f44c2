"""``images.generate(response_format="url")`` through a real gateway process, with the official openai SDK.

The URL points at the gateway (never the upstream), fetching it returns the image without an API
key, and a tampered or expired signature is refused.
"""

from __future__ import annotations

import io
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import openai
import pytest
from PIL import Image

from tests.fixtures.gateway_server import database_url_of_test_db, gateway_env, run_gateway

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def gateway(gateway_settings, upstream_url, tmp_path):
    env = gateway_env(
        database_name=None,
        upstream_url=upstream_url,
        DATABASE_URL=database_url_of_test_db(),
        MEDIA_ROOT=str(tmp_path / "media"),
    )
    with run_gateway(env) as url:
        yield url


@pytest.fixture
def generated(gateway, api_key, upstream_url) -> tuple[str, openai.types.ImagesResponse]:
    sdk = openai.OpenAI(base_url=f"{gateway}/v1", api_key=api_key, max_retries=0)
    result = sdk.images.generate(model="flux", prompt="a lighthouse", size="256x256", response_format="url")
    return gateway, result


def test_the_image_url_points_at_the_gateway_and_names_no_upstream(generated, upstream_url):
    gateway, result = generated
    [image] = result.data
    assert image.url.startswith(f"{gateway}/v1/images/files/")
    assert image.b64_json is None
    assert urlsplit(upstream_url).netloc not in result.model_dump_json()


def test_fetching_the_image_url_returns_the_image_without_a_key(generated):
    _, result = generated
    response = httpx.get(result.data[0].url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/")
    assert Image.open(io.BytesIO(response.content)).size == (256, 256)


def test_a_head_request_on_the_image_url_gives_its_headers_alone(generated):
    """``curl -I`` and link checkers ask for the headers only (it was a 405)."""
    _, result = generated
    response = httpx.head(result.data[0].url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/")
    assert response.content == b""
    assert httpx.post(result.data[0].url).headers["Allow"] == "GET, HEAD"


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return parts._replace(query=urlencode(query)).geturl()


def test_a_tampered_or_expired_image_url_is_refused(generated):
    _, result = generated
    url = result.data[0].url
    query = parse_qs(urlsplit(url).query)
    tampered = {
        "signature": _with_query(url, signature=query["signature"][0][::-1]),
        "later expiry": _with_query(url, expires=str(int(query["expires"][0]) + 3600)),
        "expired": _with_query(url, expires=str(int(time.time()) - 1)),
        "unsigned": url.split("?")[0],
    }
    for case, bad_url in tampered.items():
        response = httpx.get(bad_url)
        assert response.status_code == 403, case
        assert response.json()["error"]["code"] == "result_link_invalid", case
    assert httpx.get(url).status_code == 200  # the untouched URL still works


def test_b64_json_stays_the_default(gateway, api_key):
    sdk = openai.OpenAI(base_url=f"{gateway}/v1", api_key=api_key, max_retries=0)
    [image] = sdk.images.generate(model="flux", prompt="a lighthouse", size="256x256").data
    assert image.url is None and image.b64_json
