"""A job's events reach every replica: a worker runs it, and the Redis channel layer carries its
events to the WebSocket clients of replicas that never saw the job."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import httpx
import pytest

from scripts.cluster_local import Cluster

pytestmark = pytest.mark.slow

#: A text job against the simulator takes well under a second; the rest is the workers' poll.
JOB_SECONDS = 30


async def job_events(ws: aiohttp.ClientWebSocketResponse, job_id: str, *, until: str) -> list[str]:
    """The event types ``ws`` receives for ``job_id`` until (and including) ``until``."""
    seen: list[str] = []
    while until not in seen:
        message = await ws.receive_json()
        if message.get("job", {}).get("id") == job_id:
            seen.append(message["type"])
    return seen


async def test_a_job_submitted_through_the_load_balancer_reaches_websockets_on_other_replicas(
    cluster: Cluster, cluster_key: str
) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=JOB_SECONDS + 10)) as session:
        # One client on each replica, directly, connected before the job exists (so none is told by a snapshot).
        sockets = []
        for url in cluster.replica_urls:
            ws = await session.ws_connect(
                f"{url.replace('http://', 'ws://')}/ws/jobs/",
                headers={"Authorization": f"Bearer {cluster_key}"},
                origin=url,
            )
            sockets.append(ws)
            assert (await ws.receive_json(timeout=10))["type"] == "snapshot"

        submitted = await asyncio.to_thread(
            httpx.post,
            f"{cluster.url}/v1/jobs",
            json={"kind": "text", "request": {"model": "openai", "messages": [{"role": "user", "content": "hello"}]}},
            headers={"Authorization": f"Bearer {cluster_key}"},
            timeout=10,
        )
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["id"]
        submitter = submitted.headers["X-Upstream-Addr"]

        started = time.monotonic()
        events = await asyncio.wait_for(
            asyncio.gather(*(job_events(ws, job_id, until="job.succeeded") for ws in sockets)), JOB_SECONDS
        )
        for ws in sockets:
            await ws.close()

    # Every replica's client, including the two that did not take the POST, got the same events in order.
    assert submitter in {url.removeprefix("http://") for url in cluster.replica_urls}, submitter
    for url, seen in zip(cluster.replica_urls, events, strict=True):
        assert seen[-1] == "job.succeeded", (url, seen)
        assert "job.running" in seen, (url, seen)  # the channel layer carries every step, not only the last
    assert time.monotonic() - started < JOB_SECONDS
    job = httpx.get(f"{cluster.url}/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {cluster_key}"}, timeout=10)
    assert job.json()["status"] == "succeeded", job.text
    assert job.json()["result"]["url"]
