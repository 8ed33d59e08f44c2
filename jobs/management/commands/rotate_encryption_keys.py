"""Re-encrypt every stored secret with the first ``FIELD_ENCRYPTION_KEY``:
``FIELD_ENCRYPTION_KEY=new,old manage.py rotate_encryption_keys``, then drop ``old``."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from jobs.services import webhook_secrets_reencrypt
from plugins.services import provider_credentials_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt upstream credentials and webhook secrets with the first key of FIELD_ENCRYPTION_KEY "
        "(set it to 'new,old' first; afterwards 'new' alone reads everything)."
    )

    def handle(self, *args, **options) -> None:
        providers, unreadable_providers = provider_credentials_reencrypt()
        webhooks, unreadable_webhooks = webhook_secrets_reencrypt()
        self.stdout.write(f"Re-encrypted {providers} provider credential(s) and {webhooks} webhook secret(s).")
        unreadable = [f"provider {name}" for name in unreadable_providers] + unreadable_webhooks
        if unreadable:
            raise CommandError(
                f"{len(unreadable)} stored secret(s) no configured key decrypts, left as they were: "
                f"{', '.join(unreadable[:20])}. Add the key they were encrypted with, or store them again."
            )
