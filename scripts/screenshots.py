"""``make screenshots``: render the dashboard's main pages into ``docs/screenshots/`` with Debian's Chromium.

Starts a throw-away embedded gateway (SQLite, the simulator), signs in as the owner of its demo
organisation, runs a few requests through the playground and a few jobs through a worker so the
pages have something to show, and saves one PNG per page at 1280×800.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.chromium import CHROMIUM_ARGS, chromium_path  # noqa: E402
from scripts.demo_site import Site, demo_site, sign_in  # noqa: E402
from scripts.local_processes import manage  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
PAGES = {
    "home": "/",
    "playground": "/playground/",
    "usage": "/usage/",
    "keys": "/keys/",
    "jobs": "/jobs/",
    "results": "/results/",
}
JOBS = (
    {"kind": "image", "request": {"prompt": "a lighthouse at dusk, oil painting", "model": "flux", "seed": 7}},
    {"kind": "image", "request": {"prompt": "a fox in the snow", "model": "flux", "seed": 42}},
    {
        "kind": "text",
        "request": {"model": "openai", "messages": [{"role": "user", "content": "Name three lighthouses"}]},
    },
)


def _run_jobs(site: Site) -> None:
    """Submit a few jobs through ``/v1/jobs`` and let a worker run them (it exits when the queue is empty)."""
    for job in JOBS:
        httpx.post(
            f"{site.url}/v1/jobs", headers={"Authorization": f"Bearer {site.api_key}"}, json=job, timeout=30
        ).raise_for_status()
    manage(["db_worker", "--batch", "--no-startup-delay"], site.env)


def main() -> None:
    executable = chromium_path()
    if executable is None:
        raise SystemExit("Chromium is not installed (apt-get install chromium).")
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as state, demo_site(Path(state)) as site, sync_playwright() as pw:
        _run_jobs(site)
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        sign_in(page, site, "owner")
        page.goto(f"{site.url}/playground/")
        for prompt in ("Say hello", "Name three lighthouses", "Write a haiku about gateways"):
            page.locator("#text").get_by_label("Message").fill(prompt)
            page.locator("#text").get_by_role("button", name="Run").click()
            page.locator("#text").get_by_text("Done").first.wait_for(timeout=30_000)
        for name, path in PAGES.items():
            page.goto(f"{site.url}{path}", wait_until="networkidle")  # lazy images and charts drawn
            page.screenshot(path=str(OUT / f"{name}.png"), full_page=False)
            print(f"wrote {(OUT / f'{name}.png').relative_to(ROOT)}")
        browser.close()


if __name__ == "__main__":
    main()
