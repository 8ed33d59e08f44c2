"""Contract tests for per-request fault injection (X-Sim-Fault / sim_fault)."""

import base64
import io
import itertools
import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from PIL import Image

from tests.simulator.helpers import chat_body, find_record, sse_data, unique

pytestmark = pytest.mark.timeout(30)


def _fault(spec: str) -> dict[str, str]:
    return {"X-Sim-Fault": spec}


def test_latency_fault_delays_the_response(gen):
    started = time.monotonic()
    response = gen.get("/text/hi", headers=_fault("latency=300ms"))
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3


def test_fault_can_be_given_as_a_query_parameter(gen):
    started = time.monotonic()
    gen.get("/text/hi", params={"sim_fault": "latency=200ms"})
    assert time.monotonic() - started >= 0.2


def test_sim_fault_query_is_not_a_generation_parameter(gen):
    prompt = unique()
    plain = gen.get(f"/image/{prompt}", params={"width": 32, "height": 32})
    faulted = gen.get(f"/image/{prompt}", params={"width": 32, "height": 32, "sim_fault": "latency=1ms"})
    assert faulted.content == plain.content


def test_stream_interval_flushes_each_chunk_as_it_is_produced(gen):
    arrivals = []
    body = {**chat_body("one two three four five"), "stream": True}
    with gen.stream("POST", "/v1/chat/completions", json=body, headers=_fault("stream-interval=100ms")) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                arrivals.append(time.monotonic())
    assert len(arrivals) >= 6
    assert arrivals[-1] - arrivals[0] >= 0.1 * (len(arrivals) - 1) * 0.8
    # Buffering would deliver chunks together (gaps near zero); one late first chunk is scheduling noise.
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert sum(gap >= 0.05 for gap in gaps) >= len(gaps) - 1


def test_status_fault_answers_with_the_gen_envelope(gen):
    response = gen.get("/text/hi", headers=_fault("status=503"))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"


def test_status_fault_can_carry_retry_after(gen):
    response = gen.get("/text/hi", headers=_fault("status=429;retry-after=2"))
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert response.json()["error"]["code"] == "RATE_LIMITED"


def test_status_fault_uses_the_legacy_text_shape(anon):
    response = anon.get("/legacy/text/hi", headers=_fault("status=500"))
    assert response.status_code == 500
    assert set(response.json()) == {"error", "status"}


def test_status_fault_uses_the_legacy_image_shape(anon):
    response = anon.get("/legacy/image/prompt/cat", headers=_fault("status=502"))
    assert response.status_code == 502
    assert response.json()["error"] == "Bad Gateway"
    assert response.headers["x-error-type"] == "BAD_GATEWAY"
    assert "requestParameters" in response.json()


def test_faults_combine_with_commas(gen):
    started = time.monotonic()
    response = gen.get("/text/hi", headers=_fault("latency=200ms,status=502"))
    assert response.status_code == 502
    assert time.monotonic() - started >= 0.2


def test_hang_fault_never_answers(gen, simulator_url):
    marker = unique("hang")
    with pytest.raises(httpx.ReadTimeout):
        gen.get("/text/hi", headers={**_fault("hang"), "x-test-id": marker}, timeout=0.5)
    assert find_record(simulator_url, marker, cancelled=True)["status"] is None


def _events_before_drop(client: httpx.Client, spec: str) -> list[str]:
    """Stream a chat completion under a drop fault; the SSE payloads received before the cut."""
    received: list[str] = []
    body = {**chat_body("one two three four five six"), "stream": True}
    request = client.build_request("POST", "/v1/chat/completions", json=body, headers=_fault(spec))
    response = client.send(request, stream=True)
    try:
        received.extend(line for line in response.iter_lines() if line.startswith("data: "))
    except httpx.RemoteProtocolError:
        return received
    finally:
        response.close()
    raise AssertionError(f"the connection was not dropped; got {received}")


def test_drop_mid_stream_cuts_the_connection_after_some_events(gen):
    events = _events_before_drop(gen, "drop-mid-stream")
    assert 0 < len(events) < 8
    assert "data: [DONE]" not in events


def test_drop_after_cuts_after_exactly_n_chunks(gen):
    assert len(_events_before_drop(gen, "drop-after=3")) == 3


@pytest.mark.parametrize("spec", ["drop-mid-stream", "drop-after=5"])
def test_drop_fault_cuts_a_plain_body_short(gen, spec):
    with pytest.raises(httpx.RemoteProtocolError):
        gen.get("/text/hello", headers=_fault(spec))


def test_malformed_fault_breaks_a_json_body(gen):
    response = gen.post("/v1/chat/completions", json=chat_body("hi"), headers=_fault("malformed"))
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_malformed_fault_injects_a_broken_sse_event(gen):
    body = {**chat_body("hi"), "stream": True}
    data = sse_data(gen.post("/v1/chat/completions", json=body, headers=_fault("malformed")).text)
    broken = []
    for payload in data[:-1]:
        try:
            json.loads(payload)
        except json.JSONDecodeError:
            broken.append(payload)
    assert broken == ['{"id":"chatcmpl-malformed","choices":[{"delta":']
    assert data[-1] == "[DONE]"


def test_error_before_stream_returns_a_json_error_instead_of_sse(gen):
    body = {**chat_body("hi"), "stream": True}
    response = gen.post("/v1/chat/completions", json=body, headers=_fault("error-before-stream"))
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == "INTERNAL_ERROR"


def test_error_before_stream_takes_its_status_from_the_status_knob(gen):
    body = {**chat_body("hi"), "stream": True}
    response = gen.post("/v1/chat/completions", json=body, headers=_fault("error-before-stream,status=503"))
    assert response.status_code == 503


def test_error_before_stream_leaves_non_streaming_requests_alone(gen):
    response = gen.post("/v1/chat/completions", json=chat_body("hi"), headers=_fault("error-before-stream"))
    assert response.status_code == 200


def test_size_fault_streams_a_body_of_exactly_n_bytes(gen):
    chunks = 0
    total = 0
    with gen.stream("GET", f"/image/{unique()}?width=64&height=64", headers=_fault("size=8mb")) as response:
        assert response.headers["content-length"] == str(8 * 1024 * 1024)
        content = bytearray()
        for chunk in response.iter_raw():
            chunks += 1
            total += len(chunk)
            content += chunk
    assert total == 8 * 1024 * 1024
    assert chunks > 1
    assert Image.open(io.BytesIO(bytes(content))).size == (64, 64)  # trailing padding is ignored


def test_size_fault_keeps_json_valid(gen):
    response = gen.post("/v1/chat/completions", json=chat_body("hi"), headers=_fault("size=100kb"))
    assert len(response.content) == 100 * 1024
    assert response.json()["object"] == "chat.completion"


def test_moderation_fault_is_a_content_policy_violation(gen):
    response = gen.post("/v1/chat/completions", json=chat_body("hi"), headers=_fault("moderation"))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "content_policy_violation"


def test_budget_fault_is_payment_required(gen):
    response = gen.get("/text/hi", headers=_fault("budget"))
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "PAYMENT_REQUIRED"


def test_pk_limit_fault_uses_the_flat_rate_limit_shape(gen):
    response = gen.get("/text/hi", headers=_fault("pk-limit;retry-after=15"))
    assert response.status_code == 429
    assert response.headers["retry-after"] == "15"
    body = response.json()
    assert body["error"] == "Rate limit exceeded"
    assert body["retryAfterSeconds"] == 15


def test_edge_limit_fault_uses_the_envelope(gen):
    response = gen.get("/text/hi", headers=_fault("edge-limit"))
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "RATE_LIMITED"
    assert response.headers["retry-after"] == "1"


def test_unknown_fault_knob_is_refused_with_the_list_of_knobs(gen):
    response = gen.get("/text/hi", headers=_fault("explode"))
    assert response.status_code == 400
    assert "latency" in response.json()["error"]["message"]


def test_legacy_queue_fault_refuses_requests_beyond_the_queue(simulator_url):
    # Anonymous cap is 1 with a wait list of 5: the sixth concurrent request is refused.
    # Prompts differ so in-flight deduplication does not merge the requests.
    headers = _fault("legacy-queue,latency=3s")

    def attempt(index: int) -> int:
        with httpx.Client(base_url=simulator_url, timeout=1.5) as client:
            try:
                return client.get(f"/legacy/text/{unique()}", headers=headers).status_code
            except httpx.ReadTimeout:
                return 0

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(attempt, range(6)))
    assert statuses.count(429) == 1
    assert statuses.count(0) == 5


def test_legacy_queue_refusal_uses_the_legacy_text_message(simulator_url):
    headers = _fault("legacy-queue,latency=3s")

    def attempt(index: int) -> httpx.Response | None:
        with httpx.Client(base_url=simulator_url, timeout=1.5) as client:
            try:
                return client.get(f"/legacy/text/{unique()}", headers={**headers, "authorization": "queue_token"})
            except httpx.ReadTimeout:
                return None

    with ThreadPoolExecutor(16) as pool:  # seed tier: cap 3, wait list 15
        refused = [r for r in pool.map(attempt, range(16)) if r is not None]
    assert len(refused) == 1
    assert refused[0].json()["error"].startswith("Queue full for IP: 127.0.0.1 (max: 15)")


def test_error_object_fault_answers_200_with_an_error_object_instead_of_a_completion(gen):
    response = gen.post("/v1/chat/completions", json=chat_body("hi"), headers=_fault("error-object"))
    assert response.status_code == 200
    assert response.json()["error"]["code"] == "SIMULATED_ERROR"
    assert "choices" not in response.json()


def test_error_object_fault_makes_a_stream_a_single_error_event_without_done(gen):
    body = {**chat_body("hi"), "stream": True}
    response = gen.post("/v1/chat/completions", json=body, headers=_fault("error-object"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert [json.loads(d)["error"]["code"] for d in sse_data(response.text)] == ["SIMULATED_ERROR"]


def test_corrupt_media_fault_keeps_type_and_length_but_the_bytes_are_not_an_image(gen):
    plain = gen.get(f"/image/{unique()}", params={"width": 32, "height": 32})
    corrupt = gen.get(f"/image/{unique()}", params={"width": 32, "height": 32}, headers=_fault("corrupt-media"))
    assert corrupt.status_code == 200
    assert corrupt.headers["content-type"] == plain.headers["content-type"] == "image/jpeg"
    assert len(corrupt.content) == int(corrupt.headers["content-length"])
    with pytest.raises(Exception, match="cannot identify"):
        Image.open(io.BytesIO(corrupt.content))


def test_corrupt_media_fault_corrupts_a_b64_json_image(gen):
    body = {"prompt": unique(), "size": "32x32", "response_format": "b64_json"}
    response = gen.post("/v1/images/generations", json=body, headers=_fault("corrupt-media"))
    encoded = response.json()["data"][0]["b64_json"]
    assert not base64.b64decode(encoded).startswith(b"\xff\xd8")


def test_corrupt_media_fault_corrupts_speech(gen):
    body = {"input": "hello there", "voice": "nova", "response_format": "mp3"}
    response = gen.post("/v1/audio/speech", json=body, headers=_fault("corrupt-media"))
    assert response.headers["content-type"] == "audio/mpeg"
    assert not response.content.startswith(b"ID3")


def test_trickle_fault_sends_one_byte_at_a_time(gen):
    started = time.monotonic()
    with gen.stream("GET", "/text/hi", headers=_fault("trickle=20ms")) as response:
        pieces = list(response.iter_raw())
    body = b"".join(pieces)
    assert body
    # One byte every 20 ms: a reader slower than that (a busy machine) may find two waiting, never the whole.
    assert len(pieces) >= len(body) // 2
    assert time.monotonic() - started >= 0.02 * (len(body) - 1) * 0.8
