"""Losing a replica loses no request that had not started streaming: nginx sends it to the next one."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from scripts.cluster_local import Cluster
from tests.cluster.calls import chat

pytestmark = pytest.mark.slow

REQUESTS = 30
KILL_AT = 10
#: Simulated generation time, so the request in flight is still inside the victim when it dies.
UPSTREAM_LATENCY = {"X-Sim-Fault": "latency=300ms"}
KILL_DELAY_SECONDS = 0.1


def upstreams(response: httpx.Response) -> list[str]:
    """The replicas nginx tried for this response, in order (``X-Upstream-Addr``)."""
    return [addr.strip() for addr in response.headers["X-Upstream-Addr"].split(",")]


def test_killing_a_replica_mid_traffic_loses_no_request(cluster: Cluster, cluster_key: str) -> None:
    addresses = [url.removeprefix("http://") for url in cluster.replica_urls]
    responses: list[httpx.Response] = []
    victim: str | None = None
    try:
        for number in range(REQUESTS):
            killer = None
            if number == KILL_AT:
                # Round robin: the next request goes where the one three requests back went. Kill that
                # replica while the request is inside it (the simulated generation takes 300 ms).
                victim = upstreams(responses[-len(addresses)])[-1]
                killer = threading.Timer(KILL_DELAY_SECONDS, cluster.kill_replica, [addresses.index(victim)])
                killer.start()
            responses.append(chat(cluster.url, cluster_key, headers=UPSTREAM_LATENCY, timeout=30))
            if killer is not None:
                killer.join()
        statuses = [response.status_code for response in responses]
        assert statuses == [200] * REQUESTS, [(r.status_code, r.text[:100]) for r in responses if r.status_code != 200]
        # The request in flight was retried on another replica, and nothing was served by the dead one.
        assert upstreams(responses[KILL_AT])[0] == victim
        assert len(upstreams(responses[KILL_AT])) == 2, responses[KILL_AT].headers["X-Upstream-Addr"]
        assert all(upstreams(r)[-1] != victim for r in responses[KILL_AT:])
    finally:
        if victim is not None:
            restore(cluster, cluster_key, victim)


def restore(cluster: Cluster, key: str, address: str) -> None:
    """Restart the killed replica and wait until nginx sends it traffic again, for the tests after this one."""
    cluster.start_replica([url.removeprefix("http://") for url in cluster.replica_urls].index(address))
    deadline = time.monotonic() + cluster.fail_timeout + 10
    while time.monotonic() < deadline:
        if upstreams(chat(cluster.url, key))[-1] == address:
            return
        time.sleep(0.2)
    pytest.fail(f"nginx did not send traffic to the restarted replica {address} again")
