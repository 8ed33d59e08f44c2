"""The dashboard's navigation: each page, its plain name and the action a role needs to see it."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from dashboard.workspace import workspace_for


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    #: The action of :mod:`accounts.roles` the page needs; ``None``: every signed-in person.
    action: str | None = None


NAVIGATION: tuple[NavItem, ...] = (
    NavItem("Home", "dashboard:home"),
    NavItem("Playground", "dashboard:playground", "call_gateway"),
    NavItem("Jobs", "dashboard:jobs", "view_jobs"),
    NavItem("Results", "dashboard:results", "view_jobs"),
    NavItem("API keys", "dashboard:keys", "view_keys"),
    NavItem("Usage", "dashboard:usage", "view_usage"),
    NavItem("Billing", "dashboard:billing", "view_billing"),
    NavItem("Members", "dashboard:members", "view_organization"),
    NavItem("Webhooks", "dashboard:webhooks", "manage_webhooks"),
    NavItem("Audit log", "dashboard:audit", "view_audit_log"),
)


def nav_links(request: HttpRequest) -> list[dict]:
    """The links the current role may follow, the current page marked."""
    workspace = workspace_for(request)
    if workspace.organization is None:
        items = [item for item in NAVIGATION if item.action is None]
    else:
        items = [item for item in NAVIGATION if item.action is None or workspace.can(item.action)]
    path = request.path
    links = [
        {
            "label": item.label,
            "url": (url := reverse(item.url_name)),
            "current": path == url or (url != "/" and path.startswith(url)),
        }
        for item in items
    ]
    return links


def navigation(request: HttpRequest) -> dict:
    """Context processor: the workspace and the links, computed only if a template uses them (admin does not)."""
    return {
        "workspace": SimpleLazyObject(lambda: workspace_for(request)),
        "nav_links": SimpleLazyObject(lambda: nav_links(request)),
    }
