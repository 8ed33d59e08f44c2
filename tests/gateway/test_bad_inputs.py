"""Bad inputs, route family by route family: each is a 400 (or 413/415…) in the one error shape, naming the
field at fault, and nothing reaches the upstream, the ledger or the job queue.

Each table row is ``(method, path, request kwargs, status, param)``; a family's rows run in one test
so the whole table is reported at once.
"""

from __future__ import annotations

import gzip
import json

import pytest
from asgiref.sync import sync_to_async

from jobs.models import Job
from tests.billing.conftest import ledger_events, settle_and_flush
from tests.gateway.conftest import upstream_requests

pytestmark = pytest.mark.django_db(transaction=True)

MSG = [{"role": "user", "content": "hi"}]
CHAT = "/v1/chat/completions"
LONE = '"x\\ud800y"'  # a JSON escape for a lone surrogate: valid JSON, invalid Unicode


def raw(text: str, content_type: str = "application/json") -> dict:
    return {"content": text.encode(), "headers": {"content-type": content_type}}


def body(**fields) -> dict:
    return {"json": fields}


CHAT_ROWS = [
    ("POST", CHAT, raw("[]"), 400, None),
    ("POST", CHAT, raw('"hello"'), 400, None),
    ("POST", CHAT, raw("{"), 400, None),
    ("POST", CHAT, raw('{"messages": NaN}'), 400, None),
    ("POST", CHAT, {"content": b'{"messages": "\xff"}', "headers": {"content-type": "application/json"}}, 400, None),
    ("POST", CHAT, raw('{"messages": [{"role": "user", "content": ' + LONE + "}]}"), 400, "messages[0].content"),
    ("POST", CHAT, raw('{"messages": [{"role": "user", "content": "hi"}], "user": ' + LONE + "}"), 400, "user"),
    ("POST", CHAT, raw('{"messages": [{"role": "user", "content": "hi"}]}', "text/plain"), 400, None),
    (
        "POST",
        CHAT,
        {
            "content": gzip.compress(b'{"messages": []}'),
            "headers": {"content-type": "application/json", "content-encoding": "gzip"},
        },
        400,
        None,
    ),
    ("POST", CHAT, body(model="openai"), 400, "messages"),
    ("POST", CHAT, body(messages=[]), 400, "messages"),
    ("POST", CHAT, body(messages="hi"), 400, "messages"),
    ("POST", CHAT, body(messages=["hi"]), 400, "messages[0]"),
    ("POST", CHAT, body(messages=[{"content": "x"}]), 400, "messages[0].role"),
    ("POST", CHAT, body(messages=[{"role": "wizard", "content": "x"}]), 400, "messages[0].role"),
    ("POST", CHAT, body(messages=[{"role": "user", "content": 5}]), 400, "messages[0].content"),
    ("POST", CHAT, body(messages=MSG, model=42), 400, "model"),
    ("POST", CHAT, body(messages=MSG, model=""), 400, "model"),
    ("POST", CHAT, body(messages=MSG, stream="yes"), 400, "stream"),
    ("POST", CHAT, body(messages=MSG, stream=True, stream_options=[None]), 400, "stream_options"),
    ("POST", CHAT, body(messages=MSG, stream_options={"include_usage": "yes"}), 400, "stream_options.include_usage"),
    ("POST", CHAT, body(messages=MSG, temperature="hot"), 400, "temperature"),
    ("POST", CHAT, body(messages=MSG, temperature=2.5), 400, "temperature"),
    ("POST", CHAT, body(messages=MSG, temperature=-0.1), 400, "temperature"),
    ("POST", CHAT, body(messages=MSG, temperature=True), 400, "temperature"),
    ("POST", CHAT, body(messages=MSG, top_p=1.5), 400, "top_p"),
    ("POST", CHAT, body(messages=MSG, n=0), 400, "n"),
    ("POST", CHAT, body(messages=MSG, n=1000), 400, "n"),
    ("POST", CHAT, body(messages=MSG, max_tokens=0), 400, "max_tokens"),
    ("POST", CHAT, body(messages=MSG, max_tokens="100"), 400, "max_tokens"),
    ("POST", CHAT, body(messages=MSG, max_tokens=10**12), 400, "max_tokens"),
    ("POST", CHAT, body(messages=MSG, max_completion_tokens=-1), 400, "max_completion_tokens"),
    ("POST", CHAT, body(messages=MSG, presence_penalty=3), 400, "presence_penalty"),
    ("POST", CHAT, body(messages=MSG, frequency_penalty=-2.5), 400, "frequency_penalty"),
    ("POST", CHAT, body(messages=MSG, seed="x"), 400, "seed"),
    ("POST", CHAT, body(messages=MSG, seed=2**70), 400, "seed"),
    ("POST", CHAT, body(messages=MSG, stop=["a", "b", "c", "d", "e"]), 400, "stop"),
    ("POST", CHAT, body(messages=MSG, logit_bias={"50256": 500}), 400, "logit_bias"),
    ("POST", CHAT, body(messages=MSG, tools="x"), 400, "tools"),
    ("POST", CHAT, body(messages=MSG, tools=[1]), 400, "tools[0]"),
    (
        "POST",
        CHAT,
        body(messages=MSG, tools=[{"type": "function", "function": {"name": ""}}]),
        400,
        "tools[0].function.name",
    ),
    ("POST", CHAT, body(messages=MSG, response_format="json"), 400, "response_format"),
    ("POST", CHAT, body(messages=MSG, top_logprobs=21), 400, "top_logprobs"),
    ("POST", CHAT, body(messages=MSG, private="yes"), 400, "private"),
]

IMAGE = "/v1/images/generations"
IMAGE_ROWS = [
    ("POST", IMAGE, body(), 400, "prompt"),
    ("POST", IMAGE, body(prompt=""), 400, "prompt"),
    ("POST", IMAGE, body(prompt=7), 400, "prompt"),
    ("POST", IMAGE, body(prompt="x" * 32_001), 400, "prompt"),
    ("POST", IMAGE, raw('{"prompt": ' + LONE + "}"), 400, "prompt"),
    ("POST", IMAGE, body(prompt="a cat", size="big"), 400, "size"),
    ("POST", IMAGE, body(prompt="a cat", size="10x10"), 400, "size"),
    ("POST", IMAGE, body(prompt="a cat", size="4096x4096"), 400, "size"),
    ("POST", IMAGE, body(prompt="a cat", size=512), 400, "size"),
    ("POST", IMAGE, body(prompt="a cat", n=2), 400, "n"),
    ("POST", IMAGE, body(prompt="a cat", n="1"), 400, "n"),
    ("POST", IMAGE, body(prompt="a cat", response_format="png"), 400, "response_format"),
    ("POST", IMAGE, body(prompt="a cat", seed=-2), 400, "seed"),
    ("POST", IMAGE, body(prompt="a cat", seed=2**31), 400, "seed"),
    ("POST", IMAGE, body(prompt="a cat", quality=5), 400, "quality"),
    ("POST", IMAGE, body(prompt="a cat", model=["flux"]), 400, "model"),
]

SPEECH = "/v1/audio/speech"
SPEECH_ROWS = [
    ("POST", SPEECH, body(), 400, "input"),
    ("POST", SPEECH, body(input=""), 400, "input"),
    ("POST", SPEECH, body(input="   "), 400, "input"),
    ("POST", SPEECH, body(input="x" * 10_001), 400, "input"),
    ("POST", SPEECH, body(input="hi", voice=5), 400, "voice"),
    ("POST", SPEECH, body(input="hi", voice=""), 400, "voice"),
    ("POST", SPEECH, body(input="hi", response_format="ogg"), 400, "response_format"),
    ("POST", SPEECH, body(input="hi", speed=10), 400, "speed"),
    ("POST", SPEECH, body(input="hi", speed="fast"), 400, "speed"),
    ("POST", SPEECH, raw('{"input": ' + LONE + "}"), 400, "input"),
]

TRANSCRIBE = "/v1/audio/transcriptions"
WAV = ("a.wav", b"RIFF0000WAVEfmt ", "audio/wav")
TRANSCRIPTION_ROWS = [
    ("POST", TRANSCRIBE, body(model="whisper-1"), 400, "file"),
    ("POST", TRANSCRIBE, {"data": {"model": "whisper-1"}, "files": {"other": ("x", b"1")}}, 400, "file"),
    ("POST", TRANSCRIBE, {"data": {"temperature": "hot"}, "files": {"file": WAV}}, 400, "temperature"),
    ("POST", TRANSCRIBE, {"data": {"temperature": "2"}, "files": {"file": WAV}}, 400, "temperature"),
    ("POST", TRANSCRIBE, {"data": {"response_format": "xml"}, "files": {"file": WAV}}, 400, "response_format"),
    ("POST", TRANSCRIBE, {"data": {"language": "x"}, "files": {"file": WAV}}, 400, "language"),
]

JOBS = "/v1/jobs"
JOB_ROWS = [
    ("POST", JOBS, raw("[]"), 400, None),
    ("POST", JOBS, body(kind="video", request={}), 400, "kind"),
    ("POST", JOBS, body(kind="image", request="a cat"), 400, "request"),
    ("POST", JOBS, body(kind="image", request={"prompt": "a cat", "n": 3}), 400, "request.n"),
    ("POST", JOBS, body(kind="text", request={"messages": MSG, "temperature": "hot"}), 400, "request.temperature"),
    (
        "POST",
        JOBS,
        body(kind="text", request={"messages": MSG, "stream_options": [None]}),
        400,
        "request.stream_options",
    ),
    ("POST", JOBS, body(kind="speech", request={"input": "hi", "voice": 1}), 400, "request.voice"),
    (
        "POST",
        JOBS,
        raw('{"kind": "text", "request": {"messages": [{"role": "user", "content": ' + LONE + "}]}}"),
        400,
        "request.messages[0].content",
    ),
    ("POST", JOBS, body(kind="image", request={"prompt": "a cat"}, webhook="http://x"), 400, "webhook"),
    ("POST", JOBS, body(kind="image", request={"prompt": "a\u0000cat"}), 400, "request.prompt"),
    ("POST", JOBS, body(kind="text", request={"messages": MSG, "x\u0000": 1}), 400, "request"),
    ("GET", JOBS + "?limit=many", {}, 400, "limit"),
    ("GET", JOBS + "?status=sideways", {}, 400, "status"),
]

NATIVE_ROWS = [
    ("GET", "/image/a%20cat?width=abc", {}, 400, "width"),
    ("GET", "/image/a%20cat?width=-1", {}, 400, "width"),
    ("GET", "/image/a%20cat?height=100000", {}, 400, "height"),
    ("GET", "/image/a%20cat?seed=abc", {}, 400, "seed"),
    ("GET", "/image/a%20cat?seed=-5", {}, 400, "seed"),
    ("GET", "/image/a%20cat?nologo=maybe", {}, 400, "nologo"),
    ("GET", "/prompt/a%20cat?enhance=perhaps", {}, 400, "enhance"),
    ("GET", "/text/hello?temperature=hot", {}, 400, "temperature"),
    ("GET", "/text/hello?max_tokens=0", {}, 400, "max_tokens"),
    ("GET", "/text/hello?top_p=9", {}, 400, "top_p"),
    ("GET", "/audio/hello?voice=", {}, 200, None),  # a blank value is no value: the default voice
    ("GET", "/textbook?presence_penalty=5", {}, 400, "presence_penalty"),
    ("POST", "/text", raw("[]"), 400, None),
    ("POST", "/text", body(messages="hi"), 400, "messages"),
    ("POST", "/openai", body(messages=MSG, temperature="hot"), 400, "temperature"),
    ("POST", "/openai", raw('{"messages": [{"role": "user", "content": ' + LONE + "}]}"), 400, "messages[0].content"),
]


async def _check(client, upstream, rows) -> None:
    wrong = []
    for method, path, kwargs, status, param in rows:
        response = await client.request(method, path, **kwargs)
        got = (response.status_code, None)
        if response.headers.get("content-type", "").startswith("application/json") and "error" in response.json():
            error = response.json()["error"]
            got = (response.status_code, error["param"])
            if set(error) != {"message", "type", "code", "param"} or not error["message"]:
                wrong.append((method, path, "not the error shape", error))
        elif status >= 400:
            wrong.append((method, path, "not JSON", response.status_code, response.text[:200]))
            continue
        if got != (status, param) and status >= 400:
            wrong.append((method, path, "expected", (status, param), "got", got, response.text[:200]))
    assert wrong == [], json.dumps(wrong, indent=1, default=str)
    allowed = [row[1].split("?")[0] for row in rows if row[3] < 400]
    reached = [r["path"] for r in upstream_requests(upstream) if not any(a in r["path"] for a in allowed)]
    assert reached == [], "nothing malformed reaches the upstream"
    await settle_and_flush()
    assert [e for e in await ledger_events() if e.status != 200] == [], "nothing malformed reaches the ledger"


@pytest.mark.parametrize(
    "rows",
    [CHAT_ROWS, IMAGE_ROWS, SPEECH_ROWS, TRANSCRIPTION_ROWS, NATIVE_ROWS],
    ids=["chat", "images", "speech", "transcriptions", "native"],
)
async def test_bad_inputs_are_refused_in_the_error_shape_and_reach_nothing(client, upstream, rows):
    await _check(client, upstream, rows)


async def test_bad_job_submissions_are_refused_and_queue_nothing(client, upstream):
    await _check(client, upstream, JOB_ROWS)
    assert await sync_to_async(Job.objects.count)() == 0


async def test_unknown_fields_providers_accept_are_not_refused(client, upstream):
    extra = {"messages": MSG, "thinking": {"budget": 5}, "safe": True, "x_custom": [1, {"a": None}]}
    response = await client.post(CHAT, json=extra)
    assert response.status_code == 200, response.text
    assert len(upstream_requests(upstream, CHAT)) == 1


@pytest.mark.parametrize(
    "disposition",
    [b'form-data; name="file"', b'form-data; name="file"; filename="\xff\xfe.wav"'],
    ids=["no filename", "filename not UTF-8"],
)
async def test_a_file_part_that_is_not_a_file_is_named_as_such(client, upstream, disposition):
    multipart = (
        b"--B\r\nContent-Disposition: " + disposition + b"\r\nContent-Type: audio/wav\r\n\r\nRIFF0000WAVEfmt \r\n"
        b'--B\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n--B--\r\n'
    )
    response = await client.post(
        TRANSCRIBE, content=multipart, headers={"Content-Type": "multipart/form-data; boundary=B"}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("file", "missing_field")
    assert "filename" in error["message"]
    assert upstream_requests(upstream) == []
