"""Webhook signing, delivery log, retries, and the SSRF policy (refused before any connection)."""

from __future__ import annotations

import json

import httpcore
import pytest
from standardwebhooks import Webhook

from core.crypto import encrypt
from jobs.delivery import post, signed_headers, webhook_delivery_attempt
from jobs.models import Job, WebhookDelivery
from jobs.netguard import GuardedBackend, guarded_transport
from jobs.services import webhook_deliveries_create, webhook_secret_generate

pytestmark = pytest.mark.django_db(transaction=True)

PUBLIC_IP = "93.184.216.34"  # never contacted: the test backend maps it to the local receiver


class NoConnect(httpcore.NetworkBackend):
    """A backend that fails the test on any connection attempt."""

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        raise AssertionError(f"a connection to {host}:{port} was attempted")


class PublicToLoopback(httpcore.NetworkBackend):
    """Connects PUBLIC_IP to the local receiver; anything else fails the test."""

    def __init__(self, port: int) -> None:
        self.port = port

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        if host != PUBLIC_IP:
            raise AssertionError(f"a connection to {host}:{port} was attempted")
        return httpcore.SyncBackend().connect_tcp("127.0.0.1", self.port, timeout, local_address, socket_options)


def strict(resolver=None, inner=None):
    return guarded_transport(allow_private=False, resolver=resolver or (lambda h, p: [h]), inner=inner or NoConnect())


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://[::1]/x",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://localhost/x",
    ],
)
def test_private_loopback_link_local_and_metadata_addresses_are_refused_before_connecting(settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    result = post(url, "{}", {}, transport=strict())
    assert result.status_code is None and result.error.startswith("refused")


def test_a_hostname_resolving_to_a_private_address_is_refused_before_connecting(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    transport = strict(resolver=lambda host, port: [PUBLIC_IP, "10.1.2.3"])
    result = post("http://hooks.example.test/x", "{}", {}, transport=transport)
    assert result.error.startswith("refused") and "10.1.2.3" in result.error


def test_a_redirect_to_a_private_address_is_refused_before_connecting(settings, receiver):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    receiver.redirect_to = "http://10.0.0.1/steal"
    port = int(receiver.url.split(":")[2].split("/")[0])
    transport = guarded_transport(
        allow_private=False, resolver=lambda host, p: [PUBLIC_IP], inner=PublicToLoopback(port)
    )
    result = post("http://hooks.example.test/hook", "{}", {}, transport=transport)
    assert len(receiver.requests) == 1 and result.error.startswith("refused")


def test_metadata_addresses_are_refused_even_when_private_addresses_are_allowed():
    backend = GuardedBackend(allow_private=True, resolver=lambda h, p: ["169.254.169.254"], inner=NoConnect())
    with pytest.raises(Exception, match="may not call"):
        backend.connect_tcp("metadata.internal", 80)


def test_signatures_verify_with_the_standardwebhooks_library():
    secret = webhook_secret_generate()
    body = json.dumps({"type": "job.succeeded"})
    headers = signed_headers(secret=secret, message_id="msg_1", body=body)
    assert Webhook(secret).verify(body, headers) == {"type": "job.succeeded"}
    with pytest.raises(Exception):  # noqa: B017, PT011 - any verification error
        Webhook(webhook_secret_generate()).verify(body, headers)


@pytest.fixture
def delivery(organization, receiver, job_settings):
    secret = webhook_secret_generate()
    job = Job.objects.create(
        organization=organization,
        kind="image",
        model="flux",
        status="succeeded",
        webhook_url=receiver.url,
        webhook_secret=encrypt(secret),
    )
    [created] = webhook_deliveries_create(job=job, event_type="job.succeeded")
    created.secret = secret
    return created


def test_a_delivery_is_signed_logged_and_marked_delivered(delivery, receiver):
    result = webhook_delivery_attempt(delivery_id=str(delivery.id))
    assert result.status == WebhookDelivery.Status.SUCCEEDED and result.attempts == 1
    headers, body, _ = receiver.requests[0]
    assert headers["webhook-id"] == delivery.message_id
    assert Webhook(delivery.secret).verify(body, headers)["data"]["id"] == str(delivery.job_id)
    attempt = result.attempt_log.get()
    assert attempt.status_code == 200 and attempt.latency_ms >= 0


def test_a_500_is_retried_on_schedule_and_then_delivered_with_the_same_id(delivery, receiver):
    receiver.statuses = [500]
    first = webhook_delivery_attempt(delivery_id=str(delivery.id))
    assert first.status == "pending" and first.last_status_code == 500 and first.next_attempt_at is not None
    first.next_attempt_at = None
    first.save()
    second = webhook_delivery_attempt(delivery_id=str(delivery.id))
    assert second.status == "succeeded" and second.attempts == 2
    assert receiver.requests[0][0]["webhook-id"] == receiver.requests[1][0]["webhook-id"]


def test_a_timeout_counts_as_a_failed_attempt_and_the_schedule_ends_in_failure(delivery, receiver, job_settings):
    receiver.delay = 1.5
    job_settings.WEBHOOKS_RETRY_DELAYS = []
    result = webhook_delivery_attempt(delivery_id=str(delivery.id))
    assert result.status == "failed" and result.last_error == "timeout"


def test_a_delivery_whose_job_was_purged_fails_at_once_with_the_reason(delivery, receiver):
    Job.objects.filter(id=delivery.job_id).delete()  # past JOBS_RETENTION_DAYS, with its signing secret
    result = webhook_delivery_attempt(delivery_id=str(delivery.id))
    assert result.status == WebhookDelivery.Status.FAILED and result.next_attempt_at is None
    assert "job was deleted" in result.last_error
    assert result.attempt_log.get().error == result.last_error
    assert receiver.requests == []  # nothing is sent unsigned


def test_a_delivery_whose_secret_no_key_decrypts_fails_at_once_with_the_reason(delivery, receiver, settings):
    settings.FIELD_ENCRYPTION_KEY = "another-key-" + "a" * 32  # the worker's key differs from the web process's
    result = webhook_delivery_attempt(delivery_id=str(delivery.id))
    assert result.status == WebhookDelivery.Status.FAILED and result.next_attempt_at is None
    assert "cannot be decrypted" in result.last_error and delivery.secret not in result.last_error
    assert result.attempt_log.get().error == result.last_error
    assert receiver.requests == []  # nothing is sent unsigned
