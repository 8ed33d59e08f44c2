"""``manage.py rotate_encryption_keys``: every stored secret moves to the first key."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from core.crypto import decrypt, encrypt
from jobs.models import Job, WebhookEndpoint
from plugins.models import ProviderConfig

pytestmark = pytest.mark.django_db

OLD, NEW = "old-key-" + "o" * 32, "new-key-" + "n" * 32
SECRET = "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"  # pragma: allowlist secret


def _stored(organization):
    endpoint = WebhookEndpoint.objects.create(
        organization=organization, url="https://example.com/h", secret=encrypt(SECRET)
    )
    job = Job.objects.create(
        organization=organization,
        kind="image",
        model="flux",
        webhook_url="https://example.com/j",
        webhook_secret=encrypt(SECRET),
    )
    provider = ProviderConfig.objects.create(
        name="azure",
        kind="openai-compatible",
        base_url="https://azure.test/v1",
        credential_encrypted=encrypt("sk-azure"),
    )
    return endpoint, job, provider


def test_after_rotation_the_new_key_alone_reads_every_stored_secret(organization, settings):
    settings.FIELD_ENCRYPTION_KEY = OLD
    endpoint, job, provider = _stored(organization)
    settings.FIELD_ENCRYPTION_KEY = f"{NEW},{OLD}"
    call_command("rotate_encryption_keys")
    settings.FIELD_ENCRYPTION_KEY = NEW
    endpoint.refresh_from_db(), job.refresh_from_db(), provider.refresh_from_db()
    assert decrypt(endpoint.secret) == decrypt(job.webhook_secret) == SECRET
    assert decrypt(provider.credential_encrypted) == "sk-azure"


def test_secrets_no_key_decrypts_are_named_left_as_they_were_and_fail_the_command(organization, settings):
    settings.FIELD_ENCRYPTION_KEY = OLD
    endpoint, _, _ = _stored(organization)
    settings.FIELD_ENCRYPTION_KEY = NEW
    with pytest.raises(CommandError, match=f"provider azure.*endpoint {endpoint.pk}"):
        call_command("rotate_encryption_keys")
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret
