"""Create the development sign-in, a demo organisation and a demo API key (idempotent).

Only for the embedded development setup: it refuses to run when ``DJANGO_ENV=production``.
The admin password and the demo key's secret are written once to ``var/dev-credentials.txt``.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts import services
from accounts.models import ApiKey, Membership, Organization, User
from accounts.roles import MODALITIES, OWNER

CREDENTIALS_FILE = Path(settings.BASE_DIR) / "var" / "dev-credentials.txt"
DEV_EMAIL = "admin@example.com"
DEMO_ORG = "demo"
DEMO_KEY_NAME = "demo"


class Command(BaseCommand):
    help = "Create a development superuser, a demo organisation and API key; write them to var/dev-credentials.txt."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        if settings.CONFIG.production:
            raise CommandError("dev_bootstrap is for development only; use create_user in production.")
        fresh = not CREDENTIALS_FILE.exists()
        lines = []
        user = User.objects.filter(email=DEV_EMAIL).first()
        if user is None or fresh:
            password = secrets.token_urlsafe(12)
            user, _ = User.objects.get_or_create(email=DEV_EMAIL, defaults={"is_staff": True, "is_superuser": True})
            user.set_password(password)
            user.save()
            lines.append(f"admin sign-in: {DEV_EMAIL} / {password}")
        organization = Organization.objects.filter(slug=DEMO_ORG).first() or services.organization_create(
            name="Demo", slug=DEMO_ORG
        )
        if not Membership.objects.filter(user=user, organization=organization).exists():
            services.membership_add(organization=organization, user=user, role=OWNER)
        demo_key = ApiKey.objects.filter(organization=organization, name=DEMO_KEY_NAME, revoked_at=None).first()
        if demo_key is None or fresh:
            if demo_key is not None:
                services.api_key_revoke(api_key=demo_key)
            _, raw = services.api_key_create(
                organization=organization, name=DEMO_KEY_NAME, scopes=MODALITIES, created_by=user, enforce_role=False
            )
            lines.append(f"demo API key (organisation {DEMO_ORG}, all modalities): {raw}")
        if lines:
            previous = [] if fresh else CREDENTIALS_FILE.read_text().splitlines()
            kept = [line for line in previous if not any(line.split(":")[0] == new.split(":")[0] for new in lines)]
            CREDENTIALS_FILE.write_text("\n".join([*kept, *lines]) + "\n")
            CREDENTIALS_FILE.chmod(0o600)
        self.stdout.write(CREDENTIALS_FILE.read_text().rstrip())
