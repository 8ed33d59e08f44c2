"""/ws/jobs/ through a real server process and a plain socket: what a library client would never
send (no Origin, binary, oversized and undecodable frames) gets an answer or a close code, and the
server keeps serving."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import pytest

from tests.conftest import require_env
from tests.fixtures.gateway_server import database_url_of_test_db, run_gateway
from tests.fixtures.wsclient import OP_BINARY, RawWebSocket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def server(job_settings, upstream_url):
    require_env("DATABASE_URL")  # the server process must open the test database
    env = {"DATABASE_URL": database_url_of_test_db(), "POLLINATIONS_GEN_URL": upstream_url}
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    with run_gateway(env) as url:
        parts = urlsplit(url)
        yield parts.hostname, parts.port


def connect(server, api_key: str) -> RawWebSocket:
    socket = RawWebSocket(*server, "/ws/jobs/", headers={"Authorization": f"Bearer {api_key}"})
    assert socket.open() == 101
    assert socket.receive_json() == {"type": "snapshot", "jobs": []}
    return socket


def test_a_real_server_accepts_an_api_key_without_origin_and_survives_garbage_frames(server, api_key):
    socket = connect(server, api_key)
    socket.send_text("not json")
    assert socket.receive_json()["code"] == "invalid_json"
    socket.send_text("[" * 2000 + "]" * 2000)
    assert socket.receive_json()["code"] == "invalid_json"
    socket.send_text('{"type": "subscribe", "job": "\\ud800"}')
    assert socket.receive_json()["code"] == "job_not_found"
    socket.send_frame(OP_BINARY, b"\x00\x01\x02")
    assert socket.receive_close_code() == 1003
    socket.close()

    socket = connect(server, api_key)
    socket.send_text("x" * 200_000)
    assert socket.receive_close_code() == 1009
    socket.close()

    socket = connect(server, api_key)
    socket.send_frame(0x1, b"\xff\xfe invalid utf-8")
    # Refused by the server's protocol layer before the consumer sees it (some servers close without a code).
    assert socket.receive_close_code() in (1007, None)
    socket.close()

    connect(server, api_key).close()  # the server still serves


def test_a_real_server_refuses_a_connection_without_credentials_with_4401(server):
    socket = RawWebSocket(*server, "/ws/jobs/")
    assert socket.open() == 101
    assert socket.receive_close_code() == 4401
    socket.close()
