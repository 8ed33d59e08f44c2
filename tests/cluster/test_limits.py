"""A key's limit is one limit for the whole cluster, not one per replica: the counters live in Redis."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scripts.cluster_local import Cluster
from tests.cluster.calls import chat

pytestmark = pytest.mark.slow

LIMIT = 20
REQUESTS = 30


def test_a_per_key_rate_limit_holds_across_replicas_behind_the_load_balancer(
    cluster: Cluster, make_cluster_key: Callable[..., dict]
) -> None:
    key = make_cluster_key(scopes="text", limits={"requests_per_minute": LIMIT})["key"]
    # Sequential, so the order is the order the shared counter saw them in.
    responses = [chat(cluster.url, key) for _ in range(REQUESTS)]

    statuses = [response.status_code for response in responses]
    assert statuses == [200] * LIMIT + [429] * (REQUESTS - LIMIT), [(r.status_code, r.text[:120]) for r in responses]
    accepted, refused = responses[:LIMIT], responses[LIMIT:]
    # Round robin spread the accepted requests over every replica, and still only LIMIT got through.
    assert {r.headers["X-Upstream-Addr"] for r in accepted} == {u.removeprefix("http://") for u in cluster.replica_urls}
    # Each replica saw the others' requests: the remaining count goes down by one per request, cluster-wide.
    assert [int(r.headers["x-ratelimit-remaining-requests"]) for r in accepted] == list(range(LIMIT - 1, -1, -1))
    assert all(int(r.headers["x-ratelimit-limit-requests"]) == LIMIT for r in accepted)
    for response in refused:
        error = response.json()["error"]
        assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limit_exceeded"), error
        assert 0 < int(response.headers["Retry-After"]) <= 60, response.headers
        assert int(response.headers["x-ratelimit-limit-requests"]) == LIMIT
        assert int(response.headers["x-ratelimit-remaining-requests"]) == 0
        assert response.headers["x-ratelimit-reset-requests"].endswith("s")
