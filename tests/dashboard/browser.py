"""The demo site the dashboard's browser tests run against (it lives in :mod:`scripts.demo_site`, shared with
``make screenshots``)."""

from __future__ import annotations

from scripts.demo_site import DEMO_PASSWORD, Site, sign_in
from scripts.demo_site import demo_site as dashboard_site

__all__ = ["DEMO_PASSWORD", "Site", "dashboard_site", "sign_in"]
