"""Create the development sign-in (idempotent) and print where to find it.

Only for the embedded development setup: it refuses to run when ``DJANGO_ENV=production``.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from mcp_site.config import BASE_DIR

CREDENTIALS_FILE = BASE_DIR / "var" / "dev-credentials.txt"
DEV_EMAIL = "admin@example.com"


class Command(BaseCommand):
    help = "Create a development superuser and write its credentials to var/dev-credentials.txt."

    def handle(self, *args, **options) -> None:
        if settings.CONFIG.production:
            raise CommandError("dev_bootstrap is for development only; use create_user in production.")
        if not User.objects.filter(email=DEV_EMAIL).exists() or not CREDENTIALS_FILE.exists():
            password = secrets.token_urlsafe(12)
            user, _ = User.objects.get_or_create(email=DEV_EMAIL, defaults={"is_staff": True, "is_superuser": True})
            user.set_password(password)
            user.save()
            CREDENTIALS_FILE.write_text(f"admin sign-in: {DEV_EMAIL} / {password}\n")
            CREDENTIALS_FILE.chmod(0o600)
        self.stdout.write(CREDENTIALS_FILE.read_text().rstrip())
