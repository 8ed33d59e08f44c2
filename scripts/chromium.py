"""Debian's Chromium for Playwright (never a downloaded browser): where it is, and how to start it headless."""

from __future__ import annotations

import os
import shutil

__all__ = ["CHROMIUM_ARGS", "CHROMIUM_CANDIDATES", "chromium_path"]

#: The distribution's Chromium; override with CHROMIUM_PATH.
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
#: Headless flags for a root sandbox on a closed network: without the background-networking
#: flags Chromium keeps trying (and failing) to reach Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """The Chromium binary to drive, or ``None`` when this machine has none."""
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return next((path for path in CHROMIUM_CANDIDATES if shutil.which(path)), None)
