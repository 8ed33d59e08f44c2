"""The browser harness itself: Debian's Chromium loads the gateway's pages under its real CSP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.gateway_server import embedded_gateway

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with embedded_gateway(tmp_path_factory.mktemp("browser")) as (url, _key, _env):
        yield url


def test_admin_sign_in_page_renders_in_chromium_without_console_or_csp_errors(
    gateway_url: str, page, console_problems: list[str]
) -> None:
    response = page.goto(f"{gateway_url}/admin/login/")
    assert response is not None and response.status == 200
    assert "content-security-policy" in response.headers
    assert page.get_by_label("Email").is_visible() or page.locator("input[name=username]").is_visible()
    assert console_problems == []
