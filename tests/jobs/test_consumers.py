"""/ws/jobs/: authentication, the first snapshot, and organisation isolation (Redis layer when REDIS_URL is set)."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from accounts.services import api_key_create, membership_add, organization_create
from jobs.services import job_cancel, job_create
from tests.jobs.conftest import closed_with, communicator

pytestmark = pytest.mark.django_db(transaction=True)


def _job(organization_id: int):
    return job_create(
        organization_id=organization_id, key_id=None, user_id=None, kind="image", model="flux", params={"prompt": "x"}
    )[0]


async def test_a_connection_without_credentials_is_closed_as_unauthenticated(job_settings):
    socket = communicator("/ws/jobs/")
    await socket.connect()
    assert await closed_with(socket) == 4401


async def test_each_organisation_receives_only_its_own_jobs_events(job_settings, organization, api_key):
    def other_org():
        other = organization_create(name="Other", slug="other")
        return other, api_key_create(organization=other, name="k", scopes=("image",))[1]

    other, other_key = await sync_to_async(other_org)()
    ours, theirs = communicator(f"/ws/jobs/?api_key={api_key}"), communicator(f"/ws/jobs/?api_key={other_key}")
    for socket in (ours, theirs):
        assert (await socket.connect(timeout=5))[0]
        assert (await socket.receive_json_from(timeout=5)) == {"type": "snapshot", "jobs": []}

    job = await sync_to_async(_job)(organization.id)
    event = await ours.receive_json_from(timeout=5)
    assert event["type"] == "job.queued" and event["job"]["id"] == str(job.id)
    await sync_to_async(job_cancel)(job=job)
    assert (await ours.receive_json_from(timeout=5))["type"] == "job.cancelled"
    assert await theirs.receive_nothing(timeout=0.5)
    await theirs.send_json_to({"type": "subscribe", "job": str(job.id)})
    assert (await theirs.receive_json_from(timeout=5))["code"] == "job_not_found"
    await ours.disconnect()
    await theirs.disconnect()
    assert other.id != organization.id


def _viewer_token(organization) -> str:
    """A JWT of a new viewer of ``organization``."""
    user = User.objects.create_user(email="ada@example.com", password="x" * 12)
    membership_add(organization=organization, user=user, role="viewer")
    return str(AccessToken.for_user(user))


async def test_a_reconnecting_member_first_gets_the_current_state_with_a_jwt(job_settings, organization):
    token = await sync_to_async(_viewer_token)(organization)
    job = await sync_to_async(_job)(organization.id)
    socket = communicator(f"/ws/jobs/?token={token}&org=acme")
    assert (await socket.connect(timeout=5))[0]
    snapshot = await socket.receive_json_from(timeout=5)
    assert [j["id"] for j in snapshot["jobs"]] == [str(job.id)] and snapshot["jobs"][0]["status"] == "queued"
    await socket.disconnect()
    refused = communicator(f"/ws/jobs/?token={token}&org=other")
    await refused.connect()
    assert await closed_with(refused) == 4403


async def test_an_organisation_slug_holding_nul_is_refused_like_any_unknown_one(job_settings, organization):
    # PostgreSQL refuses NUL in a query: the socket used to die with a traceback and no close code.
    token = await sync_to_async(_viewer_token)(organization)
    refused = communicator(f"/ws/jobs/?token={token}&org=ac%00me")
    await refused.connect()
    assert await closed_with(refused) == 4403


async def test_a_machine_client_with_an_api_key_and_no_origin_is_accepted(job_settings, api_key):
    socket = communicator(
        "/ws/jobs/", headers=((b"host", b"testserver"), (b"authorization", f"Bearer {api_key}".encode()))
    )
    assert (await socket.connect(timeout=5))[0]
    assert (await socket.receive_json_from(timeout=5)) == {"type": "snapshot", "jobs": []}
    await socket.disconnect()


async def test_a_page_of_another_origin_may_use_an_api_key(job_settings, api_key):
    socket = communicator(f"/ws/jobs/?api_key={api_key}", headers=((b"origin", b"https://elsewhere.example"),))
    assert (await socket.connect(timeout=5))[0]
    assert (await socket.receive_json_from(timeout=5))["type"] == "snapshot"
    await socket.disconnect()


def _session_cookie(organization) -> bytes:
    from django.test import Client

    user = User.objects.create_user(email="viewer@example.com", password="x" * 12)
    membership_add(organization=organization, user=user, role="viewer")
    browser = Client()
    browser.force_login(user)
    return f"sessionid={browser.cookies['sessionid'].value}".encode()


@pytest.mark.parametrize(
    ("origin", "forwarded", "accepted"),
    [
        (b"http://testserver", None, True),
        (b"https://evil.example", None, False),
        (None, None, False),
        (b"null", None, False),
        # The same host name is not the same origin: another port, or another scheme.
        (b"http://testserver:9999", None, False),
        (b"https://testserver", None, False),
        # Behind the TLS-terminating proxy the settings name (SECURE_PROXY_SSL_HEADER), the browser's origin is https.
        (b"https://testserver", b"https", True),
        (b"http://testserver", b"https", False),
        (b"https://trusted.example", None, True),  # CSRF_TRUSTED_ORIGINS
    ],
)
async def test_the_session_cookie_is_honoured_only_from_the_connection_s_own_origin(
    job_settings, organization, origin, forwarded, accepted
):
    job_settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    job_settings.CSRF_TRUSTED_ORIGINS = ["https://trusted.example"]
    cookie = await sync_to_async(_session_cookie)(organization)
    headers = (
        (b"host", b"testserver"),
        (b"cookie", cookie),
        *(((b"origin", origin),) if origin else ()),
        *(((b"x-forwarded-proto", forwarded),) if forwarded else ()),
    )
    socket = communicator("/ws/jobs/?org=acme", headers=headers)
    await socket.connect()
    if accepted:
        assert (await socket.receive_json_from(timeout=5))["type"] == "snapshot"
        await socket.disconnect()
    else:
        assert await closed_with(socket) == 4401


#: Text frames that are not a message of the protocol: each is answered with an error, the socket stays open.
GARBAGE_TEXT = [
    ("not json", "invalid_json"),
    ("", "invalid_json"),
    ("{", "invalid_json"),
    ("[" * 2000 + "]" * 2000, "invalid_json"),  # nested deeper than the parser's recursion limit
    ('{"a":' * 600 + "1" + "}" * 600, "unknown_message"),
    ("\ud800", "invalid_json"),
    ("NaN", "unknown_message"),
    ("[1, 2]", "unknown_message"),
    ('"subscribe"', "unknown_message"),
    ('{"type": "subscribe"}', "unknown_message"),
    ('{"type": "subscribe", "job": {"$ne": null}}', "job_not_found"),
    ('{"type": "subscribe", "job": "\\ud800"}', "job_not_found"),
    ('{"type": "subscribe", "job": 1e400}', "job_not_found"),
]


@pytest.mark.parametrize(("frame", "code"), GARBAGE_TEXT)
async def test_a_garbage_text_frame_is_answered_with_an_error_and_the_socket_stays_open(
    job_settings, api_key, frame, code
):
    socket = communicator(f"/ws/jobs/?api_key={api_key}")
    assert (await socket.connect(timeout=5))[0]
    await socket.receive_json_from(timeout=5)
    await socket.send_input({"type": "websocket.receive", "text": frame})
    answer = await socket.receive_json_from(timeout=5)
    assert answer["type"] == "error" and answer["code"] == code
    await socket.send_json_to({"type": "subscribe", "job": "00000000-0000-0000-0000-000000000000"})
    assert (await socket.receive_json_from(timeout=5))["code"] == "job_not_found"
    await socket.disconnect()


@pytest.mark.parametrize(
    ("frame", "close_code"),
    [
        ({"bytes": b"\x00\xff binary"}, 1003),
        ({"bytes": b""}, 1003),
        ({"text": "x" * 5000}, 1009),
        ({"text": "[" * 100_000}, 1009),
    ],
)
async def test_binary_and_oversized_frames_close_the_socket_with_an_explicit_code(
    job_settings, api_key, frame, close_code
):
    socket = communicator(f"/ws/jobs/?api_key={api_key}")
    assert (await socket.connect(timeout=5))[0]
    await socket.receive_json_from(timeout=5)
    await socket.send_input({"type": "websocket.receive", **frame})
    assert await closed_with(socket) == close_code


@pytest.mark.parametrize("extensions", [{"websocket.http.response": {}}, {}])
async def test_a_socket_to_an_unknown_path_is_refused_with_404_not_a_server_error(extensions):
    from mcp_site.asgi import application

    scope = {"type": "websocket", "path": "/ws/nothing/", "raw_path": b"/ws/nothing/", "query_string": b""}
    scope |= {"headers": [(b"host", b"testserver")], "subprotocols": [], "extensions": extensions}
    sent = []

    async def receive():
        return {"type": "websocket.connect"}

    async def send(message):
        sent.append(message)

    await application(scope, receive, send)
    if extensions:
        start, body = sent
        assert (start["type"], start["status"]) == ("websocket.http.response.start", 404)
        assert (b"content-type", b"application/json") in start["headers"]
        assert json.loads(body["body"])["error"]["code"] == "not_found"
    else:
        assert [message["type"] for message in sent] == ["websocket.close"]
