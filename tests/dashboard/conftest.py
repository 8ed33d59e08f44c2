"""Dashboard fixtures: an organisation, signed-in clients per role, ledger events through the real service."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import Organization, User
from billing.services.ledger import usage_events_insert
from tests.accounts.factories import member_create_for_tests, organization_create_for_tests
from tests.billing.factories import usage_event_for_tests
from tests.dashboard.browser import Site, dashboard_site


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One real gateway process for every dashboard browser test (starting one costs seconds of CI time)."""
    with dashboard_site(tmp_path_factory.mktemp("dashboard")) as running:
        yield running


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


@pytest.fixture
def org(db) -> Organization:
    return organization_create_for_tests(slug="acme")


@pytest.fixture
def member(org) -> Callable[..., User]:
    def make(role: str, organization: Organization | None = None) -> User:
        return member_create_for_tests(organization=organization or org, role=role)

    return make


@pytest.fixture
def signed_in(member) -> Callable[..., Client]:
    """A test client signed in (a real session) as a new member with ``role``."""

    def make(role: str, organization: Organization | None = None) -> Client:
        client = Client()
        client.force_login(member(role, organization))
        return client

    return make


@pytest.fixture
def record_usage() -> Callable[..., int]:
    def record(organization: Organization, count: int = 1, **fields) -> int:
        return usage_events_insert(
            events=[usage_event_for_tests(organization_id=organization.pk, **fields) for _ in range(count)]
        )

    return record
