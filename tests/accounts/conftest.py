"""Fixtures for the accounts tests: organisations, users with a role, keys and JWT clients."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import _keycache
from accounts.models import Organization, User
from tests.accounts.factories import (
    api_key_create_for_tests,
    member_create_for_tests,
    organization_create_for_tests,
    user_create_for_tests,
)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 at its production cost would make every sign-in in these tests take ~0.3 s.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Rate-limit counters and cached key identities never leak from one test into another."""
    cache.clear()
    _keycache.forget_local_cache()
    yield
    _keycache.forget_local_cache()


@pytest.fixture
def org(db) -> Organization:
    return organization_create_for_tests(slug="acme")


@pytest.fixture
def other_org(db) -> Organization:
    return organization_create_for_tests(slug="globex")


@pytest.fixture
def user_with_role(org) -> Callable[[str], User]:
    def make(role: str, organization: Organization | None = None) -> User:
        return member_create_for_tests(organization=organization or org, role=role)

    return make


@pytest.fixture
def owner(user_with_role) -> User:
    return user_with_role("owner")


@pytest.fixture
def api_key(org):
    return api_key_create_for_tests(org=org, name="ci")


def jwt_client_for(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def jwt_client() -> Callable[[User], APIClient]:
    return jwt_client_for


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def stranger(db) -> User:
    return user_create_for_tests(email="stranger@example.com")
