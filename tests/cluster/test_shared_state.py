"""What one replica knows, every replica knows: keys, revocations and cached results live in
PostgreSQL and Redis, never in a process."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

import httpx
import pytest

from scripts.cluster_local import Cluster
from tests.cluster.calls import chat, image

pytestmark = pytest.mark.slow

#: The promise of accounts/keyauth.py: every replica refuses a revoked key within this long.
REVOCATION_SECONDS = 5.0


def test_every_replica_is_ready_with_the_shared_database_cache_and_channel_layer(cluster: Cluster) -> None:
    for url in (*cluster.replica_urls, cluster.url):
        response = httpx.get(f"{url}/readyz", timeout=10)
        assert response.status_code == 200, (url, response.text)
        checks = response.json()["checks"]
        assert {"database", "cache", "channel_layer"} <= checks.keys()
        assert all(check["ok"] for check in checks.values()), (url, checks)


def test_a_key_created_once_works_on_every_replica_and_through_the_load_balancer(
    cluster: Cluster, cluster_key: str
) -> None:
    for url in (*cluster.replica_urls, cluster.url):
        response = chat(url, cluster_key)
        assert response.status_code == 200, (url, response.text)
        assert response.json()["choices"][0]["message"]["content"]


def test_the_load_balancer_spreads_requests_over_every_replica(cluster: Cluster, cluster_key: str) -> None:
    served_by = {chat(cluster.url, cluster_key).headers["X-Upstream-Addr"] for _ in range(len(cluster.replica_urls))}
    assert served_by == {url.removeprefix("http://") for url in cluster.replica_urls}


def test_a_result_cached_by_one_replica_is_a_hit_on_the_others(cluster: Cluster, cluster_key: str) -> None:
    seed = secrets.randbelow(2**31)  # a fresh seed: this run's first request cannot be cached yet
    first, *others = cluster.replica_urls
    miss = image(first, cluster_key, seed=seed)
    assert miss.status_code == 200, miss.text
    assert miss.headers["X-Cache"] == "MISS"
    for url in others:
        hit = image(url, cluster_key, seed=seed)
        assert hit.status_code == 200, hit.text
        assert hit.headers["X-Cache"] == "HIT", url
        assert hit.json()["data"] == miss.json()["data"]


def test_a_revoked_key_is_refused_by_every_replica_within_seconds(
    cluster: Cluster, cluster_organization: str, make_cluster_key: Callable[..., dict]
) -> None:
    created = make_cluster_key()
    # Each replica has just authenticated the key, so each holds it in its process-local cache.
    for url in cluster.replica_urls:
        assert chat(url, created["key"]).status_code == 200, url
    cluster.manage("revoke_api_key", "--org", cluster_organization, "--id", str(created["id"]))
    revoked_at = time.monotonic()
    refused_after: dict[str, float] = {}
    while len(refused_after) < len(cluster.replica_urls) and time.monotonic() - revoked_at < REVOCATION_SECONDS + 1:
        for url in cluster.replica_urls:
            if url not in refused_after and chat(url, created["key"]).status_code == 401:
                refused_after[url] = time.monotonic() - revoked_at
        time.sleep(0.1)
    assert set(refused_after) == set(cluster.replica_urls), (
        f"still accepted by {set(cluster.replica_urls) - set(refused_after)}"
    )
    assert max(refused_after.values()) <= REVOCATION_SECONDS, refused_after
    # And it stays refused everywhere, through the load balancer too.
    for url in (*cluster.replica_urls, cluster.url):
        assert chat(url, created["key"]).status_code == 401, url
