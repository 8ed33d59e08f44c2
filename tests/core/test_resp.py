"""The hot path's lean Redis connection: every caller gets its own replies, failures heal on the next call."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import socket
import ssl

import pytest
import redis
from redis.backoff import ExponentialBackoff, NoBackoff

from core.resp import Connection, encode
from tests.conftest import require_env
from tests.fixtures.redis_server import private_redis
from tests.fixtures.simulator_server import free_port

#: A script that keeps Redis busy for about ``ARGV[1]`` milliseconds, then answers ``ARGV[2]``.
SLOW = """
local t = redis.call('TIME')
local until_us = t[1] * 1000000 + t[2] + ARGV[1] * 1000
repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] >= until_us
return ARGV[2]
"""


def connection(url: str, *, timeout: float = 2.0, retries: int = 2) -> Connection:
    return Connection(url, timeout=timeout, retries=retries, backoff=ExponentialBackoff(cap=0.05, base=0.01))


@pytest.fixture
def url() -> str:
    return require_env("REDIS_URL")


@pytest.fixture
def redis_port() -> int:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    return free_port()


def test_commands_are_encoded_as_one_resp_pipeline():
    assert encode([("SET", "k", b"v\r\n"), ("INCRBY", "n", 12), ("ECHO", 1.5)]) == (
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv\r\n\r\n"
        b"*3\r\n$6\r\nINCRBY\r\n$1\r\nn\r\n$2\r\n12\r\n"
        b"*2\r\n$4\r\nECHO\r\n$3\r\n1.5\r\n"
    )
    with pytest.raises(TypeError):
        encode([("ECHO", True)])


async def test_concurrent_callers_each_get_their_own_replies(url):
    conn = connection(url)
    replies = await asyncio.gather(*(conn.execute([("ECHO", f"a{i}"), ("ECHO", f"b{i}")]) for i in range(300)))
    assert replies == [[f"a{i}".encode(), f"b{i}".encode()] for i in range(300)]
    conn.close()


async def test_an_error_reply_takes_its_command_s_place_and_the_others_run(url):
    conn = connection(url)
    key = f"resp-test:{free_port()}"
    unknown_sha = "0" * 40
    replies = await conn.execute([("SET", key, "1"), ("EVALSHA", unknown_sha, 0), ("NOSUCHCOMMAND",), ("GET", key)])
    assert replies[0] == b"OK" and replies[3] == b"1"
    assert isinstance(replies[1], redis.exceptions.NoScriptError)
    assert type(replies[2]) is redis.exceptions.ResponseError and "unknown command" in str(replies[2])
    await conn.execute([("DEL", key)])
    conn.close()


async def test_the_url_s_database_is_selected(url):
    base = url.rsplit("/", 1)[0]
    conn = connection(f"{base}/7")
    key = f"resp-test:{free_port()}"
    await conn.execute([("SET", key, "seven")])
    assert redis.Redis.from_url(f"{base}/7").getdel(key) == b"seven"
    assert redis.Redis.from_url(f"{base}/0").get(key) is None
    conn.close()


async def test_a_caller_that_gives_up_does_not_shift_the_replies_of_the_next(url):
    conn = connection(url)
    slow = asyncio.ensure_future(conn.execute([("EVAL", SLOW, 0, 100, "slow")]))
    await asyncio.sleep(0.02)
    slow.cancel()
    # Sent after the abandoned call on the same socket: its reply is read and dropped first.
    assert await conn.execute([("ECHO", "mine")]) == [b"mine"]
    conn.close()


async def test_a_call_past_its_timeout_fails_and_the_next_uses_a_fresh_connection(url):
    conn = connection(url, timeout=0.1, retries=0)
    with pytest.raises(redis.exceptions.TimeoutError):
        await conn.execute([("EVAL", SLOW, 0, 300, "late")])
    # The late reply went with the closed socket; it is not read as this call's.
    await asyncio.sleep(0.3)
    assert await conn.execute([("ECHO", "next")]) == [b"next"]
    conn.close()


async def test_callers_waiting_on_a_connection_the_server_closed_fail_and_the_next_call_heals(redis_port, tmp_path):
    url = f"redis://127.0.0.1:{redis_port}/0"
    conn = connection(url, retries=0)
    with private_redis(redis_port, tmp_path) as server:
        assert await conn.execute([("INCR", "n")]) == [1]
        waiting = asyncio.ensure_future(conn.execute([("EVAL", SLOW, 0, 500, "never")]))
        await asyncio.sleep(0.1)
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        with pytest.raises(redis.exceptions.ConnectionError):
            await waiting
    with private_redis(redis_port, tmp_path):
        assert await conn.execute([("INCR", "n")]) == [1]  # a new server, reached on the first call
    conn.close()


async def test_a_restarted_server_is_reached_on_the_first_call_after_it(redis_port, tmp_path):
    url = f"redis://127.0.0.1:{redis_port}/0"
    conn = connection(url, retries=2)
    with private_redis(redis_port, tmp_path) as server:
        assert await conn.execute([("PING",)]) == [b"PONG"]
        server.send_signal(signal.SIGKILL)
        server.wait(10)
    with private_redis(redis_port, tmp_path):
        assert await conn.execute([("PING",)]) == [b"PONG"]
    conn.close()


async def test_a_stopped_server_fails_the_call_after_its_retries(redis_port):
    conn = Connection(f"redis://127.0.0.1:{redis_port}/0", timeout=1.0, retries=2, backoff=NoBackoff())
    with pytest.raises(redis.exceptions.ConnectionError, match="Cannot connect to Redis"):
        await conn.execute([("PING",)])


async def test_a_server_that_accepts_but_never_answers_times_out():
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        conn = connection(f"redis://127.0.0.1:{port}/0", timeout=0.1, retries=1)
        with pytest.raises(redis.exceptions.TimeoutError):
            await conn.execute([("PING",)])
        conn.close()


async def test_the_url_s_password_is_sent_and_a_wrong_one_refused(redis_port, tmp_path):
    with private_redis(redis_port, tmp_path):
        redis.Redis(port=redis_port).config_set("requirepass", "s3cret")
        good = connection(f"redis://:s3cret@127.0.0.1:{redis_port}/0")
        assert await good.execute([("PING",)]) == [b"PONG"]
        with pytest.raises(redis.exceptions.AuthenticationError):
            await connection(f"redis://:wrong@127.0.0.1:{redis_port}/0").execute([("PING",)])
        # No password: the server answers the command itself with an error, in its place.
        [reply] = await connection(f"redis://127.0.0.1:{redis_port}/0").execute([("PING",)])
        assert isinstance(reply, redis.exceptions.AuthenticationError)
        good.close()


async def test_a_call_that_times_out_on_a_busy_but_live_socket_fails_alone(redis_port, tmp_path):
    # A server of its own: on the shared one, another test's client can hold Redis past the first call's
    # timeout, and that is not what this test is about.
    with private_redis(redis_port, tmp_path):
        conn = connection(f"redis://127.0.0.1:{redis_port}/0", timeout=2.0, retries=0)
        assert await conn.execute([("PING",)]) == [b"PONG"]
        opened = conn._protocol
        # Redis runs them one after the other: the first answers at ~1.2 s, the second at ~2.5 s, 2.2 s after it
        # was sent, past its 2 s. When the second gives up, the socket brought a reply 1.1 s before: alive, so it
        # stays open. The second is sent once Redis has begun the first: Redis writes the replies of the commands
        # it read together only when all of them have run, so sent at once the first would answer at 2.5 s too.
        first = asyncio.ensure_future(conn.execute([("EVAL", SLOW, 0, 1200, "first")]))
        await asyncio.sleep(0.3)
        with pytest.raises(redis.exceptions.TimeoutError):
            await conn.execute([("EVAL", SLOW, 0, 1300, "second")])
        assert await first == [b"first"]
        # The next call on the same socket gets its own reply: the late one is read and dropped.
        assert await conn.execute([("ECHO", "third")]) == [b"third"]
        assert conn._protocol is opened
        conn.close()


async def test_an_empty_call_sends_nothing(url):
    conn = connection(url)
    assert await conn.execute([]) == []
    assert await conn.execute([("ECHO", "after")]) == [b"after"]
    conn.close()


async def test_a_connection_whose_setup_times_out_is_closed_not_left_open():
    with socket.create_server(("127.0.0.1", 0)) as silent:
        silent.settimeout(2)
        port = silent.getsockname()[1]
        conn = connection(f"redis://127.0.0.1:{port}/3", timeout=0.1, retries=0)  # /3: a SELECT to answer
        with pytest.raises(redis.exceptions.TimeoutError):
            await conn.execute([("PING",)])
        accepted, _ = silent.accept()
        with accepted:
            accepted.settimeout(2)
            received = b""
            with contextlib.suppress(ConnectionResetError):
                while chunk := accepted.recv(1024):
                    received += chunk
        assert received.startswith(b"*2\r\n$6\r\nSELECT")  # then the end of the stream: our side closed it


async def test_a_connection_attempt_nobody_waited_for_does_not_fail_the_next_call(redis_port, tmp_path):
    conn = connection(f"redis://127.0.0.1:{redis_port}/0", retries=0)
    gave_up = asyncio.ensure_future(conn.execute([("PING",)]))  # nothing listens yet: this attempt fails
    await asyncio.sleep(0)
    gave_up.cancel()
    await asyncio.sleep(0.1)
    with private_redis(redis_port, tmp_path):
        assert await conn.execute([("PING",)]) == [b"PONG"]
    conn.close()


def test_tls_follows_the_url_s_ssl_options_as_redis_py_does():
    strict = Connection("rediss://cache.example:6380/0", timeout=1, retries=0, backoff=NoBackoff())._tls()
    assert strict.verify_mode == ssl.CERT_REQUIRED and strict.check_hostname
    relaxed = Connection(
        "rediss://cache.example:6380/0?ssl_cert_reqs=none&ssl_check_hostname=false",
        timeout=1,
        retries=0,
        backoff=NoBackoff(),
    )._tls()
    assert relaxed.verify_mode == ssl.CERT_NONE and not relaxed.check_hostname
    assert Connection("redis://cache.example/0", timeout=1, retries=0, backoff=NoBackoff())._tls() is None
