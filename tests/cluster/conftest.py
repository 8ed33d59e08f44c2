"""A real cluster for the whole session: three gateway replicas and two workers behind nginx.

The replicas share only PostgreSQL (``DATABASE_URL``) and Redis (``REDIS_URL``), both required
(skipped locally without them, failing under ``CI=true``). Every port is a free loopback port, so a
``make cluster-local`` on 8080 or another engineer's run cannot collide with it.

Suites for other shared behaviour (limits and billing, jobs and their WebSocket updates) take the
``cluster`` fixture for its URLs (``cluster.url`` through nginx, ``cluster.replica_urls`` for each
replica directly) and ``make_cluster_key`` for callers; ``cluster.manage(...)`` runs an operator
command against the shared database.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Iterator

import pytest

from scripts.cluster_local import Cluster, ClusterError, ClusterPorts, required_urls, run_cluster
from scripts.cluster_nginx import find_nginx
from scripts.local_processes import free_port
from tests.conftest import IN_CI, require_env

REPLICAS = 3
WORKERS = 2
#: Short, so a replica restarted by a test is back in rotation quickly.
FAIL_TIMEOUT_SECONDS = 2


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The running cluster; stopped (every process) at the end of the session."""
    environ = {"DATABASE_URL": require_env("DATABASE_URL"), "REDIS_URL": require_env("REDIS_URL")}
    try:
        required_urls(environ)
    except ClusterError as exc:
        _unavailable(str(exc))
    if find_nginx() is None:
        _unavailable("nginx is not installed: run `make cluster-local` once, or apt-get install nginx-light")
    ports = ClusterPorts(
        balancer=free_port(), simulator=free_port(), replicas=tuple(free_port() for _ in range(REPLICAS))
    )
    with run_cluster(
        ports=ports,
        workers=WORKERS,
        state_dir=tmp_path_factory.mktemp("cluster"),
        environ={**os.environ, **environ},
        install_nginx=False,
        fail_timeout=FAIL_TIMEOUT_SECONDS,
    ) as running:
        yield running


@pytest.fixture(scope="session")
def cluster_organization(cluster: Cluster) -> str:
    """A fresh organisation in the shared database (its slug): reruns never collide."""
    slug = f"cluster-{secrets.token_hex(4)}"
    cluster.manage("create_organization", "--slug", slug)
    return slug


@pytest.fixture(scope="session")
def make_cluster_key(cluster: Cluster, cluster_organization: str) -> Callable[..., dict]:
    """Create an API key with ``manage.py create_api_key``: ``make_cluster_key(scopes="text")``.

    ``limits`` are the key's own (``{"requests_per_minute": 20}``), as ``--limit NAME=NUMBER``.

    :returns: the command's JSON (``key`` is the secret, ``id`` the row for ``revoke_api_key``).
    """

    def make(
        *, scopes: str = "text,image,audio", name: str | None = None, limits: dict[str, int] | None = None
    ) -> dict:
        name = name or f"key-{secrets.token_hex(4)}"
        limit_args = [arg for limit, number in (limits or {}).items() for arg in ("--limit", f"{limit}={number}")]
        created = cluster.manage(
            "create_api_key", "--org", cluster_organization, "--name", name, "--scopes", scopes, *limit_args, "--json"
        )
        return json.loads(created)

    return make


@pytest.fixture(scope="session")
def cluster_key(make_cluster_key: Callable[..., dict]) -> str:
    """One key for tests that only need a valid caller."""
    return make_cluster_key()["key"]
