"""Create an API key and print its secret once.

``manage.py create_api_key --org acme --name ci --scopes text,image --json``
"""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts import services
from accounts.exceptions import ApplicationError
from accounts.management.commands._output import add_json_flag, command_error, emit
from accounts.models import Organization, User
from accounts.roles import MODALITIES


def _limits(values: list[str]) -> dict[str, int]:
    limits = {}
    for item in values:
        name, _, number = item.partition("=")
        if not number.isdigit():
            raise CommandError(f"--limit {item!r}: use NAME=NUMBER, e.g. requests_per_minute=50.")
        limits[name.strip()] = int(number)
    return limits


class Command(BaseCommand):
    help = "Create an API key for an organisation; the secret is printed once and never stored."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="Organisation slug.")
        parser.add_argument("--name", required=True)
        parser.add_argument("--scopes", default=",".join(MODALITIES), help=f"Comma-separated among {MODALITIES}.")
        parser.add_argument("--models", default="", help="Comma-separated model allow-list (default: any).")
        parser.add_argument("--limit", action="append", default=[], help="NAME=NUMBER, repeatable.")
        parser.add_argument("--expires-days", type=int, help="Expire after this many days.")
        parser.add_argument("--created-by", help="E-mail of the user recorded as creator.")
        add_json_flag(parser)

    def handle(self, *args, **options) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organisation {options['org']!r}: create it with create_organization first.")
        creator = None
        if options["created_by"]:
            creator = User.objects.filter(email=options["created_by"].strip().lower()).first()
            if creator is None:
                raise CommandError(f"No user {options['created_by']!r}.")
        expires = options["expires_days"]
        try:
            api_key, raw = services.api_key_create(
                organization=organization,
                name=options["name"],
                scopes=[s for s in options["scopes"].split(",") if s.strip()],
                allowed_models=[m for m in options["models"].split(",") if m.strip()],
                limits=_limits(options["limit"]),
                expires_at=timezone.now() + timedelta(days=expires) if expires else None,
                created_by=creator,
                enforce_role=False,
            )
        except ApplicationError as exc:
            raise command_error(exc) from exc
        emit(
            self,
            options,
            {
                "id": api_key.pk,
                "organization": organization.slug,
                "name": api_key.name,
                "prefix": api_key.prefix,
                "scopes": api_key.scopes,
                "allowed_models": api_key.allowed_models,
                "limits": api_key.limits,
                "expires_at": api_key.expires_at.isoformat() if api_key.expires_at else None,
                "key": raw,
            },
            f"API key {api_key.name!r} for {organization.slug} (id {api_key.pk}, scopes {','.join(api_key.scopes)}).\n"
            f"Secret, shown only now:\n{raw}",
        )
