"""OpenID Connect sign-in in Chromium, against a real provider process (oidc-provider-mock) on loopback.

One module-scoped site: a provider that checks client secrets, and three gateway processes sharing one
SQLite database — open registration, invite-only, and one whose client secret is wrong and whose
provider is stopped by the last test. Each test signs a different person in and asserts what they see
and what the audit log records.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.local_processes import ProcessGroup, gateway_command, manage
from tests.fixtures.gateway_server import embedded_gateway
from tests.fixtures.oidc_provider import OidcProvider, run_oidc_provider
from tests.fixtures.simulator_server import free_port

# Three gateways and two providers start once for the module: slow on a busy machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

PROVIDER_NAME = "Mock ID"
SIGN_IN = "/accounts/oidc/oidc/login/"
CALLBACK = "/accounts/oidc/oidc/login/callback/"
#: People invited or registered before the tests run (see the ``site`` fixture).
INVITED = "invited@example.com"
EXISTING = "existing@example.com"


@dataclass
class Site:
    open_url: str
    invite_url: str
    broken_url: str  # wrong client secret; its provider (``spare``) is stopped by the provider-down test
    provider: OidcProvider
    spare: OidcProvider
    database: Path
    logs: list[Path]

    def audit(self, *, since: int = 0) -> list[dict]:
        """The audit events recorded after event id ``since``, oldest first."""
        with sqlite3.connect(self.database) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(
                "SELECT id, action, actor_email, target, detail FROM accounts_auditevent WHERE id > ? ORDER BY id",
                (since,),
            ).fetchall()
        return [{**dict(row), "detail": json.loads(row["detail"])} for row in rows]

    def last_audit_id(self) -> int:
        events = self.audit()
        return events[-1]["id"] if events else 0

    def log_text(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in self.logs if path.exists())


def _callback(port: int) -> str:
    return f"http://127.0.0.1:{port}{CALLBACK}"


_SETUP = """
from accounts.models import Organization, User
from accounts.services import invitation_create
org = Organization.objects.get(slug="demo")
invitation_create(organization=org, email="{invited}", role="developer")
User.objects.create_user(email="{existing}", password="a-long-passphrase-1")  # pragma: allowlist secret
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    state = tmp_path_factory.mktemp("oidc")
    ports = {name: free_port() for name in ("open", "invite", "broken")}
    with run_oidc_provider() as provider, run_oidc_provider() as spare:
        client_id, secret = provider.register_client([_callback(ports["open"]), _callback(ports["invite"])])
        spare_id, _secret = spare.register_client([_callback(ports["broken"])])
        oidc = {
            "OIDC_PROVIDER_URL": provider.url,
            "OIDC_CLIENT_ID": client_id,
            "OIDC_CLIENT_SECRET": secret,
            "OIDC_PROVIDER_NAME": PROVIDER_NAME,
            "EMAIL_URL": "locmem://",
        }
        with embedded_gateway(state, port=ports["open"], **oidc) as (open_url, _key, env):
            manage(["shell", "-c", _SETUP.format(invited=INVITED, existing=EXISTING)], env).check_returncode()
            broken = {
                **env,
                "OIDC_PROVIDER_URL": spare.url,
                "OIDC_CLIENT_ID": spare_id,
                "OIDC_CLIENT_SECRET": "not-the-registered-secret",  # pragma: allowlist secret
                # Short, so that the provider-down test also sees the click fetch the document again.
                "OIDC_DISCOVERY_CACHE_SECONDS": "1",
            }
            with ProcessGroup(state / "more") as group:
                group.start("invite", gateway_command(ports["invite"]), {**env, "REGISTRATION_MODE": "invite"})
                group.start("broken", gateway_command(ports["broken"]), broken)
                urls = {name: f"http://127.0.0.1:{ports[name]}" for name in ("invite", "broken")}
                for name, url in urls.items():
                    group.wait_http(name, f"{url}/readyz")
                yield Site(
                    open_url=open_url,
                    invite_url=urls["invite"],
                    broken_url=urls["broken"],
                    provider=provider,
                    spare=spare,
                    database=state / "db.sqlite3",
                    logs=[state / "logs" / "gateway.log", group.log_path("invite"), group.log_path("broken")],
                )


def _sign_in(
    page, base_url: str, sub: str, *, next_url: str = "", before_authorize=None, from_sign_in_page: bool = False
) -> object:
    """Click through our "Continue" page, then the provider's form as ``sub``; returns the last response.

    :param before_authorize: called with the page once it shows the provider's form.
    :param from_sign_in_page: start at the sign-in page and follow its link to the provider.
    """
    if from_sign_in_page:
        page.goto(f"{base_url}/accounts/login/")
        page.get_by_role("link", name=PROVIDER_NAME).click()
    else:
        page.goto(f"{base_url}{SIGN_IN}" + (f"?next={next_url}" if next_url else ""))
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Subject").fill(sub)
    if before_authorize is not None:
        before_authorize(page)
    with page.expect_navigation(url=lambda url: url.startswith(base_url)) as navigation:
        page.get_by_role("button", name="Authorize", exact=True).click()
    return navigation.value


def _me(page, base_url: str) -> dict:
    response = page.request.get(f"{base_url}/api/me")
    assert response.status == 200, response.text()
    return response.json()


@pytest.fixture
def our_page_problems(page, site: Site) -> list[tuple[str, str]]:
    """What went wrong in the console of the gateways' pages (the provider's pages are not ours), with the URL.

    ``console_problems`` words, (URL, problem) pairs; see :func:`_problems`.
    """
    ours = (site.open_url, site.invite_url, site.broken_url)
    problems: list[tuple[str, str]] = []
    page.on(
        "console",
        lambda msg: (
            msg.type == "error"
            and msg.location.get("url", "").startswith(ours)
            and problems.append((msg.location["url"], f"console: {msg.text}"))
        ),
    )
    page.on(
        "pageerror", lambda error: page.url.startswith(ours) and problems.append((page.url, f"page error: {error}"))
    )
    return problems


def _problems(recorded: list[tuple[str, str]], *responses) -> list[str]:
    """The problems of our pages, less Chromium's report of the failure pages' own (deliberate) HTTP status."""
    reported = {
        (r.url, f"console: Failed to load resource: the server responded with a status of {r.status} ")
        for r in responses
    }
    return [
        problem for url, problem in recorded if not any(url == u and problem.startswith(line) for u, line in reported)
    ]


def _failure(site: Site, since: int) -> list[tuple[str, str, str]]:
    """The failed sign-ins audited since ``since``: (e-mail, via, reason)."""
    return [
        (e["actor_email"], e["detail"].get("via"), e["detail"].get("reason"))
        for e in site.audit(since=since)
        if e["action"] == "login_failed"
    ]


def _user_exists(site: Site, email: str) -> bool:
    with sqlite3.connect(site.database) as db:
        return db.execute("SELECT 1 FROM accounts_user WHERE email = ?", (email,)).fetchone() is not None


def test_open_sign_up_creates_the_account_with_the_name_claim_and_lands_on_the_home_page(
    site: Site, page, our_page_problems: list[tuple[str, str]]
) -> None:
    site.provider.set_user("new-1", email="new.person@example.com", email_verified=True, name="New Person")
    since = site.last_audit_id()
    _sign_in(page, site.open_url, "new-1", from_sign_in_page=True)
    assert page.url == f"{site.open_url}/"
    assert page.get_by_role("heading", name="Home", exact=True).is_visible()
    assert _problems(our_page_problems) == []
    me = _me(page, site.open_url)
    assert (me["email"], me["full_name"], me["organizations"]) == ("new.person@example.com", "New Person", [])
    actions = [(e["action"], e["actor_email"]) for e in site.audit(since=since)]
    assert actions == [("user_registered", "new.person@example.com"), ("login_succeeded", "new.person@example.com")]


def test_an_invited_person_signs_up_in_invite_mode_and_joins_the_organisation(site: Site, page) -> None:
    site.provider.set_user("invited-1", email=INVITED, email_verified=True, name="Invited Person")
    since = site.last_audit_id()
    _sign_in(page, site.invite_url, "invited-1")
    assert page.url == f"{site.invite_url}/"
    me = _me(page, site.invite_url)
    assert me["email"] == INVITED
    assert me["organizations"] == [{"slug": "demo", "name": "demo", "role": "developer"}]
    actions = [e["action"] for e in site.audit(since=since)]
    assert actions == ["user_registered", "member_added", "invitation_accepted", "login_succeeded"]


def test_invite_mode_refuses_a_person_without_an_invitation_with_a_clear_page(
    site: Site, page, our_page_problems: list[tuple[str, str]]
) -> None:
    site.provider.set_user("stranger-1", email="stranger@example.com", email_verified=True, name="Stranger")
    since = site.last_audit_id()
    response = _sign_in(page, site.invite_url, "stranger-1")
    assert response.status == 403
    assert page.get_by_role("heading", name="Sign-in failed").is_visible()
    assert "no pending invitation for stranger@example.com" in page.inner_text("body")
    assert not _user_exists(site, "stranger@example.com")
    assert _failure(site, since) == [("stranger@example.com", "oidc", "signup_refused")]
    assert _problems(our_page_problems, response) == []


def test_an_existing_account_is_linked_by_its_verified_email_and_lands_on_next(site: Site, page) -> None:
    site.provider.set_user("existing-1", email=EXISTING, email_verified=True, name="Existing Person")
    since = site.last_audit_id()
    _sign_in(page, site.open_url, "existing-1", next_url="/api/me")
    assert page.url == f"{site.open_url}/api/me"
    me = _me(page, site.open_url)
    assert (me["email"], me["full_name"]) == (EXISTING, "Existing Person")
    assert [(e["action"], e["actor_email"]) for e in site.audit(since=since)] == [("login_succeeded", EXISTING)]
    with sqlite3.connect(site.database) as db:
        linked = db.execute(
            "SELECT u.email FROM socialaccount_socialaccount s JOIN accounts_user u ON u.id = s.user_id "
            "WHERE s.uid = 'existing-1'"
        ).fetchall()
    assert linked == [(EXISTING,)]


def test_an_unverified_email_is_refused_and_takes_over_no_account(
    site: Site, page, our_page_problems: list[tuple[str, str]]
) -> None:
    # Someone whose provider account claims the existing person's address without having verified it.
    site.provider.set_user("impostor-1", email=EXISTING, email_verified=False, name="Impostor")
    since = site.last_audit_id()
    response = _sign_in(page, site.open_url, "impostor-1")
    assert response.status == 403
    assert f"has not verified the e-mail address {EXISTING}" in page.inner_text("body")
    assert _me_status(page, site.open_url) == 401
    assert _failure(site, since) == [(EXISTING, "oidc", "email_unverified")]
    assert _problems(our_page_problems, response) == []


def test_a_tampered_state_is_refused_and_signs_nobody_in(
    site: Site, page, our_page_problems: list[tuple[str, str]]
) -> None:
    site.provider.set_user("tamper-1", email="tamper@example.com", email_verified=True)

    def tamper(page) -> None:
        page.goto(page.url.replace("state=", "state=tampered"))
        page.get_by_label("Subject").fill("tamper-1")

    since = site.last_audit_id()
    response = _sign_in(page, site.open_url, "tamper-1", before_authorize=tamper)
    assert response.status == 400
    assert "expired or was altered" in page.inner_text("body")
    assert page.get_by_role("link", name="Try again").get_attribute("href") == SIGN_IN
    assert not _user_exists(site, "tamper@example.com")
    assert _failure(site, since) == [("", "oidc", "state_mismatch")]
    assert _problems(our_page_problems, response) == []


def test_a_wrong_client_secret_fails_clearly_and_is_audited_and_logged(
    site: Site, page, our_page_problems: list[tuple[str, str]]
) -> None:
    site.spare.set_user("secret-1", email="secret@example.com", email_verified=True)
    since = site.last_audit_id()
    response = _sign_in(page, site.broken_url, "secret-1")
    assert response.status == 502
    assert f"{PROVIDER_NAME} did not complete the sign-in. Please try again." in page.inner_text("body")
    assert not _user_exists(site, "secret@example.com")
    assert _failure(site, since) == [("", "oidc", "provider_error")]
    assert "reason=provider_error" in site.log_text() or '"reason": "provider_error"' in site.log_text()
    assert _problems(our_page_problems, response) == []


def test_the_provider_down_between_authorising_and_the_callback_or_at_the_click_gives_the_same_clear_page(
    site: Site, page, our_page_problems: list[tuple[str, str]]
) -> None:
    """Stops the spare provider: keep this test last."""
    site.spare.set_user("down-1", email="down@example.com", email_verified=True)

    def stop_provider_once_it_has_authorised(page) -> None:
        def authorise_then_stop(route) -> None:
            redirect_to_our_callback = route.fetch(max_redirects=0)
            site.spare.stop()
            route.fulfill(response=redirect_to_our_callback)

        page.route(f"{site.spare.url}/oauth2/authorize*", authorise_then_stop)

    since = site.last_audit_id()
    response = _sign_in(page, site.broken_url, "down-1", before_authorize=stop_provider_once_it_has_authorised)
    assert response.status == 502
    assert f"We could not reach {PROVIDER_NAME}. Please try again in a moment." in page.inner_text("body")
    # At the click: the cached discovery document (1 s here) has expired and the provider does not answer.
    time.sleep(1.5)
    page.goto(f"{site.broken_url}{SIGN_IN}")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Continue").click()
    assert navigation.value.status == 502
    assert page.url == f"{site.broken_url}{SIGN_IN}"
    assert "We could not reach" in page.inner_text("body")
    assert "Traceback" not in page.content()
    assert _failure(site, since) == [("", "oidc", "provider_unreachable")] * 2
    assert site.log_text().count("provider_unreachable") >= 2
    assert _problems(our_page_problems, response, navigation.value) == []


def _me_status(page, base_url: str) -> int:
    return page.request.get(f"{base_url}/api/me").status
