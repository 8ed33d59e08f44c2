"""Fixtures shared by the whole suite.

Shared-state tests run against the real PostgreSQL and Redis when ``DATABASE_URL`` / ``REDIS_URL``
are set (``.ci/run`` sets both). Under ``CI=true`` a test that needs them fails instead of skipping,
so a misconfigured CI can never pass by testing less.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"

#: ``browser``, ``page`` and ``console_problems`` for tests in a real Chromium; ``spans`` (tracing on, in memory).
pytest_plugins = ["tests.fixtures.browser", "tests.fixtures.tracing"]


def require_env(name: str) -> str:
    """Return the variable, or skip (fail under CI) saying why the test cannot run."""
    value = os.environ.get(name)
    if value:
        return value
    reason = f"{name} is not set: this test needs the real service (.ci/run sets it)"
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


def run_django(
    code: str, env: Mapping[str, str], timeout: float = 60, *, before_setup: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run Python code in a fresh interpreter with Django set up under the given environment.

    Settings are read once per process, so behaviour that depends on the environment at start-up is
    tested in a child process rather than by patching a live one.

    :param before_setup: code run before ``django.setup()`` (e.g. to make a package unimportable).
    """
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_ENV", "DEBUG"}}
    prelude = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mcp_site.settings'); django.setup()\n"
    )
    return subprocess.run(
        [sys.executable, "-c", before_setup + prelude + code],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session", autouse=True)
def _close_database_pools(django_db_setup, django_db_blocker):
    """Close psycopg pools before the test database is dropped (they hold connections open)."""
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connections

    with django_db_blocker.unblock():
        # Async ORM calls made outside a request cycle ran on asgiref's shared executor thread,
        # whose connections no request_finished signal closes: close them there, then the pools.
        SyncToAsync.single_thread_executor.submit(connections.close_all).result()
        for conn in connections.all():
            if hasattr(conn, "close_pool"):
                conn.close_pool()


@pytest.fixture(scope="session")
def upstream_url() -> Iterator[str]:
    """One simulator process, the gateway's upstream for the whole session."""
    from tests.fixtures.simulator_server import run_simulator

    with run_simulator() as url:
        yield url


@pytest.fixture
def default_upstream(settings, upstream_url: str):
    """The built-in Pollinations providers pointed at the session's simulator (so ``/readyz`` finds it)."""
    settings.POLLINATIONS_GEN_URL = upstream_url
    settings.POLLINATIONS_IMAGE_URL = f"{upstream_url}/legacy/image"
    settings.POLLINATIONS_TEXT_URL = f"{upstream_url}/legacy/text"
    return settings


@pytest.fixture
def unreachable_cache(settings) -> None:
    """The shared cache as it is while Redis is down: django-redis pointed at a port where nothing listens."""
    from tests.fixtures.simulator_server import free_port

    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }
