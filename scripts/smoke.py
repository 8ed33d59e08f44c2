"""Smoke-test a running MCP Gateway from the outside: ``python scripts/smoke.py URL [--api-key KEY]``.

Checks, in order: ``/healthz`` and ``/readyz`` answer 200; one authenticated chat completion; one
image (decoded, size checked); one streamed completion that ends with ``data: [DONE]`` and whose
events arrive spread over time rather than in one buffered lump; ``/metrics`` exposes
``mcp_http_requests_total``. Prints one PASS/FAIL line per check and exits 1 if any failed.

Stand-alone on purpose (stdlib, httpx and Pillow; no Django): the deploy pipeline runs it against
staging and production. Without ``--api-key`` or ``API_KEY``, a loopback URL uses the demo key that
``manage.py dev_bootstrap`` wrote to ``var/dev-credentials.txt``.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from PIL import Image

CREDENTIALS_FILE = Path(__file__).resolve().parent.parent / "var" / "dev-credentials.txt"
#: The line ``manage.py dev_bootstrap`` writes for the demo key: ``<label>: <secret>``.
DEMO_KEY_LABEL = "demo API key"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
DEFAULT_TIMEOUT_SECONDS = 30.0
IMAGE_SIZE = (256, 256)
#: The bundled simulator paces streamed chunks on this header; real providers never see it
#: (the gateway forwards only ``MCP_FORWARD_HEADERS``) and pace chunks by generating them.
STREAM_PACING_HEADER = {"X-Sim-Fault": "stream-interval=25ms"}
#: Streamed events must be spread over at least this long: all of them at once means a buffer
#: (a proxy without ``proxy_buffering off``, a compressing middleware) held the answer back.
MIN_STREAM_SPREAD_SECONDS = 0.1
MIN_STREAM_EVENTS = 3


class CheckFailed(Exception):
    """A check's expectation was not met; the message says what was seen."""


def dev_api_key(path: Path = CREDENTIALS_FILE) -> str | None:
    """The demo API key from ``var/dev-credentials.txt``, or ``None`` when there is none."""
    if not path.is_file():
        return None
    for line in path.read_text().splitlines():
        label, separator, secret = line.partition(": ")
        if separator and label.startswith(DEMO_KEY_LABEL) and secret.strip():
            return secret.strip()
    return None


def _expect_status(response: httpx.Response, status: int = 200) -> None:
    if response.status_code != status:
        raise CheckFailed(f"HTTP {response.status_code}, expected {status}: {response.text[:200]!r}")


def _json(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        raise CheckFailed(f"not JSON: {response.text[:200]!r}") from None
    if not isinstance(body, dict):
        raise CheckFailed(f"expected a JSON object, got {type(body).__name__}")
    return body


def check_healthz(client: httpx.Client) -> str:
    _expect_status(client.get("/healthz"))
    return "alive"


def check_readyz(client: httpx.Client) -> str:
    response = client.get("/readyz")
    _expect_status(response)
    checks = _json(response).get("checks", {})
    return "ready: " + ", ".join(sorted(checks)) if checks else "ready"


def check_chat(client: httpx.Client) -> str:
    body = {"model": "openai", "messages": [{"role": "user", "content": "Say hello for a smoke test."}]}
    response = client.post("/v1/chat/completions", json=body)
    _expect_status(response)
    try:
        content = _json(response)["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise CheckFailed(f"no choices[0].message.content in {response.text[:200]!r}") from None
    if not isinstance(content, str) or not content.strip():
        raise CheckFailed("the completion is empty")
    return f"{len(content)} characters"


def check_image(client: httpx.Client) -> str:
    width, height = IMAGE_SIZE
    response = client.post("/v1/images/generations", json={"prompt": "a lighthouse, smoke test", "size": "256x256"})
    _expect_status(response)
    try:
        item = _json(response)["data"][0]
    except (KeyError, IndexError, TypeError):
        raise CheckFailed(f"no data[0] in {response.text[:200]!r}") from None
    if item.get("b64_json"):
        raw = base64.b64decode(item["b64_json"])
    elif item.get("url"):
        # A plain client: the image may live on another host, which must not see the API key.
        fetched = httpx.get(item["url"], timeout=client.timeout, follow_redirects=True)
        _expect_status(fetched)
        raw = fetched.content
    else:
        raise CheckFailed("data[0] has neither b64_json nor url")
    try:
        image = Image.open(io.BytesIO(raw))
        image.load()
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for undecodable bytes
        raise CheckFailed(f"the image does not decode: {exc}") from None
    if image.size != (width, height):
        raise CheckFailed(f"image is {image.size[0]}x{image.size[1]}, asked for {width}x{height}")
    return f"{image.format} {width}x{height}, {len(raw)} bytes"


def check_stream(client: httpx.Client) -> str:
    body = {
        "model": "openai",
        "stream": True,
        "messages": [{"role": "user", "content": "Count from one to ten in words, for a smoke test."}],
    }
    arrivals: list[tuple[float, str]] = []
    with client.stream("POST", "/v1/chat/completions", json=body, headers=STREAM_PACING_HEADER) as response:
        if response.status_code != 200:
            response.read()
            _expect_status(response)
        content_type = response.headers.get("content-type", "")
        if not content_type.startswith("text/event-stream"):
            raise CheckFailed(f"content-type is {content_type!r}, expected text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data:"):
                arrivals.append((time.monotonic(), line[5:].strip()))
    if not arrivals or arrivals[-1][1] != "[DONE]":
        last = arrivals[-1][1][:80] if arrivals else "nothing"
        raise CheckFailed(f"the stream did not end with data: [DONE] (last event: {last!r})")
    events = arrivals[:-1]
    for _, data in events:
        try:
            json.loads(data)
        except ValueError:
            raise CheckFailed(f"an event is not JSON: {data[:80]!r}") from None
    if len(events) < MIN_STREAM_EVENTS:
        raise CheckFailed(f"only {len(events)} events before [DONE], expected at least {MIN_STREAM_EVENTS}")
    spread = arrivals[-1][0] - arrivals[0][0]
    if spread < MIN_STREAM_SPREAD_SECONDS:
        raise CheckFailed(
            f"all {len(events)} events arrived within {spread * 1000:.0f} ms: the answer looks buffered "
            "(a proxy in front needs response buffering off for text/event-stream)"
        )
    return f"{len(events)} events over {spread * 1000:.0f} ms, then [DONE]"


def check_metrics(client: httpx.Client) -> str:
    token = os.environ.get("METRICS_TOKEN")
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}" if token else ""})
    if not token and response.status_code == 401:
        # A deployment with METRICS_TOKEN keeps its metrics from the public: that is the pass.
        if '"invalid_metrics_token"' not in response.text:
            raise CheckFailed("401 without the metrics error code")
        return "refused without the scrape token (METRICS_TOKEN is set there)"
    if not token and response.status_code == 403:
        # Without METRICS_TOKEN, the deployment serves its metrics only to its own machine.
        if '"metrics_local_only"' not in response.text:
            raise CheckFailed("403 without the metrics error code")
        return "refused to a remote client (no METRICS_TOKEN there: served to its own machine only)"
    _expect_status(response)
    if "mcp_http_requests_total" not in response.text:
        raise CheckFailed("mcp_http_requests_total is missing")
    return "mcp_http_requests_total exposed"


#: (label, check, needs an API key)
CHECKS: tuple[tuple[str, Callable[[httpx.Client], str], bool], ...] = (
    ("GET /healthz", check_healthz, False),
    ("GET /readyz", check_readyz, False),
    ("chat completion", check_chat, True),
    ("image generation", check_image, True),
    ("streamed completion", check_stream, True),
    ("GET /metrics", check_metrics, False),
)


def run(url: str, api_key: str | None, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> bool:
    """Run every check against ``url``, print one line each; ``True`` when all passed."""
    print(f"smoke test of {url}")
    passed = True
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with httpx.Client(base_url=url, headers=headers, timeout=httpx.Timeout(timeout, connect=5.0)) as client:
        for label, check, needs_key in CHECKS:
            started = time.monotonic()
            try:
                if needs_key and not api_key:
                    raise CheckFailed("no API key: pass API_KEY=... (make smoke) or --api-key")
                outcome, detail = "PASS", check(client)
            except CheckFailed as exc:
                outcome, detail = "FAIL", str(exc)
            except httpx.HTTPError as exc:
                outcome, detail = "FAIL", f"{type(exc).__name__}: {exc or 'no detail'}"
            passed = passed and outcome == "PASS"
            elapsed = (time.monotonic() - started) * 1000
            print(f"{outcome}  {label:<20} {detail} ({elapsed:.0f} ms)", flush=True)
    print("smoke test passed" if passed else "smoke test FAILED")
    return passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the gateway's base URL, e.g. https://staging.gateway.example.com")
    parser.add_argument("--api-key", default=os.environ.get("API_KEY") or None, help="default: $API_KEY")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, help="seconds per request")
    args = parser.parse_args(argv)
    url = args.url.rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        parser.error(f"{args.url!r} is not an http(s) URL")
    api_key = args.api_key
    if not api_key and parts.hostname in LOOPBACK_HOSTS:
        api_key = dev_api_key()
        if api_key:
            print(f"using the demo key from {CREDENTIALS_FILE}")
    return 0 if run(url, api_key, args.timeout) else 1


if __name__ == "__main__":
    sys.exit(main())
