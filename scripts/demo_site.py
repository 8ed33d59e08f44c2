"""A throw-away gateway with people in every role, for the dashboard's browser tests and ``make screenshots``.

The embedded gateway (SQLite, the simulator, uvicorn) with an owner, admin, developer, billing
member and viewer in its ``demo`` organisation (on a Team plan), a second organisation (Globex,
owned by the viewer) and an open invitation; everyone's password is :data:`DEMO_PASSWORD`.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from scripts.local_processes import embedded_gateway, manage

__all__ = ["DEMO_PASSWORD", "Site", "demo_site", "sign_in"]

#: The password of every person of the throw-away site (never a real account).
DEMO_PASSWORD = "a-Long-demo-passw0rd"  # noqa: S105  # pragma: allowlist secret
#: Run inside the gateway's environment (``manage.py shell``): people, a second organisation, an invitation.
SETUP = """
import json
import secrets
from accounts.models import Organization, User
from accounts.services import invitation_create, membership_add, organization_create
from billing.models import Plan
from billing.services import subscription_create
demo = Organization.objects.get(slug="demo")
people = {}
for role in ("owner", "admin", "developer", "billing", "viewer"):
    user = User.objects.create_user(email=f"{role}@example.com", password=PASSWORD)
    membership_add(organization=demo, user=user, role=role)
    people[role] = user.email
other = organization_create(name="Globex", slug="globex", owner=User.objects.get(email="viewer@example.com"))
plan = Plan.objects.create(slug="team", name="Team", included_credits=20_000_000, token_quota=100_000, image_quota=500)
subscription_create(organization=demo, plan=plan)
_, token = invitation_create(organization=demo, email="invitee@example.com", role="developer",
                             invited_by=User.objects.get(email="owner@example.com"))
print(json.dumps({"people": people, "invitation": token}))
"""


@dataclass(frozen=True)
class Site:
    url: str
    api_key: str
    people: dict[str, str]
    invitation: str
    env: dict[str, str]


@contextmanager
def demo_site(state: Path, **extra: str) -> Iterator[Site]:
    """The embedded gateway with an owner, admin, developer, billing member and viewer; files kept in ``state``."""
    # A fixed key: the set-up process signs the invitation that the gateway process then checks.
    extra = {"SECRET_KEY": secrets.token_urlsafe(50), "MEDIA_ROOT": str(state / "media"), **extra}
    with embedded_gateway(state, **extra) as (url, key, env):
        output = manage(["shell", "-c", f"PASSWORD = {DEMO_PASSWORD!r}\n{SETUP}"], env).stdout
        data = json.loads(output.strip().splitlines()[-1])
        yield Site(url=url, api_key=key, people=data["people"], invitation=data["invitation"], env=env)


def sign_in(page, site: Site, role: str) -> None:
    """Sign in through the sign-in form (a Playwright page) as the member with ``role``; ends on Home."""
    page.goto(f"{site.url}/accounts/login/")
    page.get_by_label("Email").fill(site.people[role])
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{site.url}/")
