"""The real PostgreSQL and Redis are used when their URLs are set (always under CI)."""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from tests.conftest import require_env


@pytest.mark.django_db
def test_database_url_selects_a_real_postgresql_server():
    require_env("DATABASE_URL")
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version_num')::int")
        (version,) = cursor.fetchone()
    assert version >= 130000


def test_redis_url_puts_the_cache_in_redis():
    url = require_env("REDIS_URL")
    import redis

    key = f"shared-services-test:{uuid.uuid4().hex}"
    cache.set(key, "seen-by-other-clients", timeout=30)
    raw = redis.Redis.from_url(url)
    # Another client, not Django, finds the entry: the cache really lives in Redis.
    assert any(key in k.decode() for k in raw.scan_iter(match=f"*{key}*"))
    cache.delete(key)


def test_redis_url_carries_channel_messages_between_separate_layer_instances():
    require_env("REDIS_URL")
    from channels_redis.core import RedisChannelLayer

    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]

    async def roundtrip() -> dict:
        sender, receiver = RedisChannelLayer(**config), RedisChannelLayer(**config)
        channel = await receiver.new_channel()
        await sender.send(channel, {"type": "probe", "n": 7})
        message = await receiver.receive(channel)
        await sender.close_pools()
        await receiver.close_pools()
        return message

    assert async_to_sync(roundtrip)() == {"type": "probe", "n": 7}
