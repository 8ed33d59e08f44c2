"""``scripts/smoke.py`` (``make smoke``): against a real gateway it passes, against a broken one it fails."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from scripts import smoke
from tests.fixtures.gateway_server import embedded_gateway
from tests.fixtures.simulator_server import free_port

REPO = Path(__file__).resolve().parents[2]
SMOKE = REPO / "scripts" / "smoke.py"
CHECK_LABELS = [label for label, _, _ in smoke.CHECKS]


def run_smoke(*args: str, api_key_env: str | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
    """Run the script as the pipeline does; ``API_KEY`` is set only when ``api_key_env`` is given.

    :param extra: more environment variables (``METRICS_TOKEN``).
    """
    env = {k: v for k, v in os.environ.items() if k not in ("API_KEY", "METRICS_TOKEN")} | extra
    return subprocess.run(
        [sys.executable, str(SMOKE), *args, "--timeout", "10"],
        cwd=REPO,
        env=env if api_key_env is None else {**env, "API_KEY": api_key_env},
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def outcomes(stdout: str) -> dict[str, str]:
    """``{check label: "PASS" | "FAIL"}`` from the smoke test's report lines."""
    found = {}
    for line in stdout.splitlines():
        for label in CHECK_LABELS:
            if line[6:].startswith(label):
                found[label] = line[:4]
    return found


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A real gateway process (uvicorn) on SQLite with the simulator upstream; yields (URL, API key)."""
    with embedded_gateway(tmp_path_factory.mktemp("smoke"), org="smoke") as (url, key, _env):
        yield url, key


@pytest.mark.slow
def test_smoke_test_passes_every_check_against_a_running_gateway(gateway: tuple[str, str]) -> None:
    url, key = gateway
    result = run_smoke(url, "--api-key", key)
    assert result.returncode == 0, result.stdout + result.stderr
    assert outcomes(result.stdout) == dict.fromkeys(CHECK_LABELS, "PASS")
    assert "smoke test passed" in result.stdout


METRICS_TOKEN = "smoke-metrics-token-0123456789"  # pragma: allowlist secret


@pytest.mark.slow
def test_a_gateway_with_a_metrics_token_keeps_its_metrics_from_the_public(tmp_path: Path) -> None:
    """The smoke test passes it when /metrics refuses an outsider, and reads the metrics with the token."""
    with embedded_gateway(tmp_path, org="guarded", METRICS_TOKEN=METRICS_TOKEN) as (url, key, _env):
        outsider = run_smoke(url, "--api-key", key)
        scraper = run_smoke(url, "--api-key", key, METRICS_TOKEN=METRICS_TOKEN)
    assert outcomes(outsider.stdout) == dict.fromkeys(CHECK_LABELS, "PASS"), outsider.stdout
    assert "refused without the scrape token" in outsider.stdout
    assert outcomes(scraper.stdout) == dict.fromkeys(CHECK_LABELS, "PASS"), scraper.stdout
    assert "mcp_http_requests_total exposed" in scraper.stdout


@pytest.mark.slow
def test_a_gateway_without_a_metrics_token_serves_its_metrics_only_to_its_own_machine(
    gateway: tuple[str, str],
) -> None:
    """Reached through an Ingress (which adds X-Forwarded-For), it refuses, and the smoke test passes that."""
    url, _ = gateway
    with httpx.Client(base_url=url, headers={"X-Forwarded-For": "203.0.113.9"}, timeout=10) as through_a_proxy:
        assert "refused to a remote client" in smoke.check_metrics(through_a_proxy)
    with httpx.Client(base_url=url, timeout=10) as on_the_machine:
        assert smoke.check_metrics(on_the_machine) == "mcp_http_requests_total exposed"


@pytest.mark.slow
def test_smoke_test_reads_the_api_key_from_the_environment(gateway: tuple[str, str]) -> None:
    url, key = gateway
    result = run_smoke(url, api_key_env=key)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_smoke_test_fails_the_authenticated_checks_with_a_wrong_key(gateway: tuple[str, str]) -> None:
    url, _ = gateway
    result = run_smoke(url, "--api-key", "mgw_not-a-real-key")  # pragma: allowlist secret
    assert result.returncode == 1
    assert outcomes(result.stdout) == {
        label: "FAIL" if needs_key else "PASS" for label, _, needs_key in smoke.CHECKS
    }, result.stdout
    assert "HTTP 401" in result.stdout
    assert "smoke test FAILED" in result.stdout


def test_smoke_test_fails_every_check_when_nothing_answers() -> None:
    result = run_smoke(f"http://127.0.0.1:{free_port()}", "--api-key", "mgw_unused")  # pragma: allowlist secret
    assert result.returncode == 1
    assert outcomes(result.stdout) == dict.fromkeys(CHECK_LABELS, "FAIL")
    assert "ConnectError" in result.stdout


def test_smoke_test_refuses_a_url_that_is_not_http() -> None:
    result = run_smoke("ftp://gateway.example.com")
    assert result.returncode == 2
    assert "is not an http(s) URL" in result.stderr


def test_demo_key_is_read_from_the_dev_bootstrap_credentials_file(tmp_path: Path) -> None:
    credentials = tmp_path / "dev-credentials.txt"
    credentials.write_text(
        "admin sign-in: admin@example.com / pw-example\n"  # pragma: allowlist secret
        "demo API key (organisation demo, all modalities): mgw_demo_secret\n"  # pragma: allowlist secret
    )
    assert smoke.dev_api_key(credentials) == "mgw_demo_secret"  # pragma: allowlist secret


def test_the_demo_key_label_is_the_one_dev_bootstrap_writes(repo: Path) -> None:
    source = (repo / "accounts" / "management" / "commands" / "dev_bootstrap.py").read_text()
    assert f'f"{smoke.DEMO_KEY_LABEL} (organisation' in source


def test_no_demo_key_without_a_credentials_file(tmp_path: Path) -> None:
    assert smoke.dev_api_key(tmp_path / "missing.txt") is None


def test_smoke_script_imports_nothing_from_django_or_the_project() -> None:
    code = (
        "import sys; sys.path.insert(0, 'scripts'); import smoke; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'gateway', 'accounts', 'mcp_site'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_an_image_given_by_url_is_fetched_without_the_api_key(respx_mock) -> None:
    png = io.BytesIO()
    Image.new("RGB", smoke.IMAGE_SIZE).save(png, format="PNG")
    respx_mock.post("https://gw.example/v1/images/generations").respond(
        json={"data": [{"url": "https://cdn.example/fox.png"}]}
    )
    cdn = respx_mock.get("https://cdn.example/fox.png").respond(content=png.getvalue())
    auth = {"Authorization": "Bearer mgw_secret"}  # pragma: allowlist secret
    with httpx.Client(base_url="https://gw.example", headers=auth) as client:
        assert smoke.check_image(client).startswith("PNG 256x256")
    assert "authorization" not in cdn.calls.last.request.headers
