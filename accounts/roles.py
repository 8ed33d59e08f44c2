"""The permission matrix: which organisation role may do which action.

This one table is read by the DRF permission classes (:mod:`accounts.permissions`), the services,
the gateway and the dashboard, and printed in docs/auth.md (a test fails when they disagree).
Deny by default: an action or role missing from the table is refused.
"""

from __future__ import annotations

__all__ = [
    "ACTIONS",
    "ACTION_LABELS",
    "MODALITIES",
    "PERMISSIONS",
    "ROLES",
    "ROLE_LABELS",
    "matrix_markdown",
    "role_allows",
]

#: What an API key may be scoped to.
MODALITIES: tuple[str, ...] = ("text", "image", "audio")

OWNER, ADMIN, DEVELOPER, BILLING, VIEWER = "owner", "admin", "developer", "billing", "viewer"
ROLES: tuple[str, ...] = (OWNER, ADMIN, DEVELOPER, BILLING, VIEWER)
ROLE_LABELS = {
    OWNER: "Owner",
    ADMIN: "Admin",
    DEVELOPER: "Developer",
    BILLING: "Billing",
    VIEWER: "Viewer",
}

ACTION_LABELS: dict[str, str] = {
    "view_organization": "see the organisation and its members",
    "manage_organization": "rename or deactivate the organisation",
    "manage_members": "invite members, change roles below owner, remove members",
    "manage_owners": "grant or remove the owner role",
    "view_keys": "list API keys (never their secrets)",
    "manage_keys": "create, edit, rotate and revoke API keys",
    # A person reaches /v1 through a personal API key (the playground creates one), never a JWT: see docs/auth.md.
    "call_gateway": "call /v1 as themselves (dashboard playground, with a personal expiring key)",
    "view_usage": "see usage and quota",
    "view_billing": "see plan, subscription and invoices",
    "manage_billing": "change plan and payment details",
    "view_jobs": "see async jobs and their results",
    "manage_results": "delete the organisation's generated results",
    "manage_webhooks": "create, change and delete webhooks",
    "view_audit_log": "read the organisation's security audit log",
}
ACTIONS: tuple[str, ...] = tuple(ACTION_LABELS)

_ALL = frozenset(ACTIONS)
PERMISSIONS: dict[str, frozenset[str]] = {
    OWNER: _ALL,
    ADMIN: _ALL - {"manage_organization", "manage_owners", "manage_billing", "view_audit_log"},
    DEVELOPER: frozenset(
        {
            "view_organization",
            "view_keys",
            "manage_keys",
            "call_gateway",
            "view_usage",
            "view_jobs",
            "manage_results",
            "manage_webhooks",
        }
    ),
    BILLING: frozenset({"view_organization", "view_usage", "view_billing", "manage_billing"}),
    VIEWER: frozenset({"view_organization", "view_keys", "view_usage", "view_jobs"}),
}


def role_allows(role: str | None, action: str) -> bool:
    """Whether ``role`` may perform ``action``; unknown roles and actions are refused."""
    return action in PERMISSIONS.get(role or "", frozenset())


def matrix_markdown() -> str:
    """The matrix as a Markdown table (docs/auth.md prints exactly this)."""
    header = "| action | " + " | ".join(ROLES) + " |"
    rule = "|---|" + "---|" * len(ROLES)
    rows = [
        f"| `{action}` — {ACTION_LABELS[action]} | "
        + " | ".join("✅" if role_allows(role, action) else "—" for role in ROLES)
        + " |"
        for action in ACTIONS
    ]
    return "\n".join([header, rule, *rows])
