"""Contract tests for the request log, in-flight deduplication and cancellation."""

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.fixtures.simulator_server import run_simulator
from tests.simulator.helpers import chat_body, find_record, records, unique

pytestmark = pytest.mark.timeout(30)


def test_health_endpoint_answers(anon):
    assert anon.get("/_sim/health").json() == {"status": "ok"}


def test_every_request_is_recorded(gen, simulator_url):
    marker = unique("log")
    body = b'{"messages":[{"role":"user","content":"hi"}]}'
    gen.post("/v1/chat/completions?x=1", content=body, headers={"x-test-id": marker})
    record = find_record(simulator_url, marker)
    assert record["method"] == "POST"
    assert record["path"] == "/v1/chat/completions"
    assert record["query"] == "x=1"
    assert record["profile"] == "gen"
    assert record["status"] == 200
    assert record["body_size"] == len(body)
    assert record["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert record["generations"] == 1
    assert record["completed"] is True
    assert record["cancelled"] is False


def test_legacy_requests_record_their_profile(anon, simulator_url):
    marker = unique("profile")
    anon.get("/legacy/text/hi", headers={"x-test-id": marker})
    assert find_record(simulator_url, marker)["profile"] == "legacy-text"


def test_model_lists_are_not_generations(anon, simulator_url):
    marker = unique("lists")
    anon.get("/v1/models", headers={"x-test-id": marker})
    assert find_record(simulator_url, marker)["generations"] == 0


def test_request_log_can_be_read_since_a_sequence_number(anon, simulator_url):
    last = records(simulator_url)["last_seq"]
    anon.get("/v1/models")
    newer = records(simulator_url, since=last)["requests"]
    assert [r["seq"] for r in newer] == [last + 1]


def test_request_log_can_be_cleared():
    # Its own simulator: on the shared one, a generation still running for an earlier test
    # would be counted after the clear.
    with run_simulator() as own_url:
        httpx.get(f"{own_url}/v1/models", timeout=10)
        assert httpx.delete(f"{own_url}/_sim/requests", timeout=10).status_code == 200
        log = records(own_url)
    assert log["requests"] == []
    assert log["generations"] == 0


def test_identical_requests_in_flight_share_one_generation(simulator_url, gen):
    marker = unique("dedup")
    body = chat_body(marker)
    headers = {"X-Sim-Fault": "latency=500ms", "x-test-id": marker}
    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda _: gen.post("/v1/chat/completions", json=body, headers=headers), range(2))
    assert first.content == second.content
    found = [r for r in records(simulator_url)["requests"] if r["headers"].get("x-test-id") == marker]
    assert sorted(r["generations"] for r in found) == [0, 1]
    assert sorted(r["deduplicated"] for r in found) == [False, True]


def test_streaming_requests_are_not_deduplicated(simulator_url, gen):
    marker = unique("nodedup")
    body = {**chat_body(marker), "stream": True}
    headers = {"X-Sim-Fault": "latency=300ms", "x-test-id": marker}
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: gen.post("/v1/chat/completions", json=body, headers=headers), range(2)))
    found = [r for r in records(simulator_url)["requests"] if r["headers"].get("x-test-id") == marker]
    assert [r["generations"] for r in found] == [1, 1]


def test_disconnect_during_latency_marks_the_request_cancelled(gen, simulator_url):
    marker = unique("cancel")
    with pytest.raises(httpx.ReadTimeout):
        gen.get("/text/hi", headers={"X-Sim-Fault": "latency=3s", "x-test-id": marker}, timeout=0.3)
    record = find_record(simulator_url, marker, cancelled=True)
    assert record["completed"] is False
    assert record["generations"] == 0


def test_disconnect_during_a_stream_marks_the_request_cancelled(gen, simulator_url):
    marker = unique("cancel-stream")
    body = {**chat_body("one two three four five six seven"), "stream": True}
    headers = {"X-Sim-Fault": "stream-interval=200ms", "x-test-id": marker}
    with gen.stream("POST", "/v1/chat/completions", json=body, headers=headers) as response:
        next(response.iter_lines())
    started = time.monotonic()
    record = find_record(simulator_url, marker, cancelled=True)
    assert record["status"] == 200
    assert time.monotonic() - started < 2


def test_dropped_connections_are_recorded_as_dropped(gen, simulator_url):
    marker = unique("dropped")
    with pytest.raises(httpx.RemoteProtocolError):
        gen.get("/text/hi", headers={"X-Sim-Fault": "drop-mid-stream", "x-test-id": marker})
    record = find_record(simulator_url, marker, dropped=True)
    assert record["completed"] is False
