"""The one Redis client factory: connections pooled before a Redis restart heal on first use."""

from __future__ import annotations

import asyncio
import shutil
import signal

import pytest
import redis

from core.redis_clients import async_client, drop_pool, persistence_warning
from tests.fixtures.redis_server import private_redis
from tests.fixtures.simulator_server import free_port


@pytest.fixture
def redis_port(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    return free_port()


async def test_connections_pooled_before_a_redis_restart_work_on_first_use_after_it(redis_port, tmp_path):
    url = f"redis://127.0.0.1:{redis_port}/0"
    client = async_client(url)
    with private_redis(redis_port, tmp_path) as server:
        # A burst grows the pool: every one of these connections is to the server about to die.
        async with client.pipeline(transaction=False) as pipe:
            await pipe.set("k", "1").execute()
        await asyncio.gather(*(client.incr("n") for _ in range(20)))
        assert len(client.connection_pool._available_connections) > 1
        server.send_signal(signal.SIGKILL)
        server.wait(10)
    with private_redis(redis_port, tmp_path):
        # No error for any of them: each broken connection is replaced and the command retried.
        assert await asyncio.gather(*(client.incr("m") for _ in range(20)))
        assert int(await client.get("m")) == 20
    await client.aclose()


async def test_a_call_to_a_stopped_redis_fails_and_drop_pool_keeps_no_connection(redis_port, tmp_path):
    client = async_client(f"redis://127.0.0.1:{redis_port}/0")
    with private_redis(redis_port, tmp_path):
        await client.ping()
    with pytest.raises(redis.ConnectionError):
        await client.ping()
    await drop_pool(client)
    assert client.connection_pool._in_use_connections == set()
    assert all(not c.is_connected for c in client.connection_pool._available_connections)
    await client.aclose()


def test_persistence_warning_names_a_redis_without_an_append_only_file(redis_port, tmp_path):
    url = f"redis://127.0.0.1:{redis_port}/0"
    with private_redis(redis_port, tmp_path):
        assert "appendonly yes" in persistence_warning(url)
    with private_redis(redis_port, tmp_path, appendonly=True):
        assert persistence_warning(url) is None
    assert persistence_warning(url) is None  # unreachable: reported elsewhere, not as missing persistence


def _channel_layer(url: str):
    from channels_redis.core import RedisChannelLayer

    from core.redis_clients import channel_layer_host

    host = channel_layer_host(url, timeout=1.0, health_check_interval=5, retries=3, blocking_seconds=2)
    return RedisChannelLayer(hosts=[host], prefix="test:channels")


def test_the_channel_layer_pools_use_the_factory_policy_with_room_for_its_blocking_receive():
    layer = _channel_layer("redis://127.0.0.1:6399/0")
    kwargs = layer.create_pool(0).connection_kwargs
    assert kwargs["health_check_interval"] == 5 and kwargs["retry"]._retries == 3
    assert kwargs["socket_timeout"] == 3.0  # the 2 s blocking receive plus the 1 s call timeout


async def test_channel_layer_messages_flow_again_after_a_redis_restart(redis_port, tmp_path):
    layer = _channel_layer(f"redis://127.0.0.1:{redis_port}/0")
    with private_redis(redis_port, tmp_path) as server:
        channel = await layer.new_channel()
        await layer.group_add("jobs", channel)
        await layer.group_send("jobs", {"type": "job.event", "n": 1})
        assert (await layer.receive(channel))["n"] == 1
        server.send_signal(signal.SIGKILL)
        server.wait(10)
    with private_redis(redis_port, tmp_path):
        await layer.group_add("jobs", channel)  # the group was in the memory of the killed server
        await layer.group_send("jobs", {"type": "job.event", "n": 2})
        assert (await asyncio.wait_for(layer.receive(channel), 5))["n"] == 2
        await layer.flush()
