"""Test factories for accounts; the gateway's tests import these to create organisations and keys."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from accounts import services
from accounts.models import ApiKey, Organization, User
from accounts.roles import MODALITIES

PASSWORD = "a-Long-test-passw0rd"  # pragma: allowlist secret
_counter = itertools.count(1)


def user_create_for_tests(*, email: str | None = None, password: str = PASSWORD, **extra: Any) -> User:
    return User.objects.create_user(email=email or f"user{next(_counter)}@example.com", password=password, **extra)


def organization_create_for_tests(*, slug: str | None = None, owner: User | None = None) -> Organization:
    slug = slug or f"org-{next(_counter)}"
    return services.organization_create(name=slug.title(), slug=slug, owner=owner)


def member_create_for_tests(*, organization: Organization, role: str, email: str | None = None) -> User:
    user = user_create_for_tests(email=email)
    services.membership_add(organization=organization, user=user, role=role)
    return user


def api_key_create_for_tests(
    *,
    org: Organization | None = None,
    scopes: Iterable[str] = MODALITIES,
    name: str | None = None,
    **kw: Any,
) -> tuple[ApiKey, str]:
    """A key (and its raw secret) through the real service; creates an organisation if none is given."""
    organization = org or organization_create_for_tests()
    return services.api_key_create(
        organization=organization, name=name or f"key-{next(_counter)}", scopes=scopes, enforce_role=False, **kw
    )
