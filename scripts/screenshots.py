"""``make screenshots``: render the dashboard's main pages into ``docs/screenshots/`` with Debian's Chromium.

Starts a throw-away embedded gateway (SQLite, the simulator), signs in as the owner of its demo
organisation, runs a few requests through the playground so the pages have something to show, and
saves one PNG per page at 1280×800.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcp_site.settings")

import django  # noqa: E402

django.setup()  # the set-up helpers below use the account services

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.dashboard.browser import dashboard_site, sign_in  # noqa: E402
from tests.fixtures.browser import CHROMIUM_ARGS, chromium_path  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
PAGES = {"home": "/", "playground": "/playground/", "usage": "/usage/", "keys": "/keys/", "jobs": "/jobs/"}


def main() -> None:
    executable = chromium_path()
    if executable is None:
        raise SystemExit("Chromium is not installed (apt-get install chromium).")
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as state, dashboard_site(Path(state)) as site, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        sign_in(page, site, "owner")
        page.goto(f"{site.url}/playground/")
        for prompt in ("Say hello", "Name three lighthouses", "Write a haiku about gateways"):
            page.locator("#text").get_by_label("Message").fill(prompt)
            page.locator("#text").get_by_role("button", name="Run").click()
            page.locator("#text").get_by_text("Done").first.wait_for(timeout=30_000)
        for name, path in PAGES.items():
            page.goto(f"{site.url}{path}")
            page.screenshot(path=str(OUT / f"{name}.png"), full_page=False)
            print(f"wrote {(OUT / f'{name}.png').relative_to(ROOT)}")
        browser.close()


if __name__ == "__main__":
    main()
