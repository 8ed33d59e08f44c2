"""Revoke an API key by id or public prefix: ``manage.py revoke_api_key --org acme --prefix mgw_4fQ2xY9a``."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import services
from accounts.management.commands._output import add_json_flag, emit
from accounts.models import ApiKey


class Command(BaseCommand):
    help = "Revoke an API key (every replica refuses it within seconds)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True)
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--id", type=int)
        group.add_argument("--prefix")
        add_json_flag(parser)

    def handle(self, *args, **options) -> None:
        keys = ApiKey.objects.select_related("organization").filter(organization__slug=options["org"])
        keys = (
            keys.filter(pk=options["id"]) if options["id"] else keys.filter(prefix=options["prefix"], revoked_at=None)
        )
        if keys.count() != 1:
            raise CommandError("No single matching key in that organisation.")
        api_key = services.api_key_revoke(api_key=keys.get())
        emit(self, options, {"id": api_key.pk, "revoked_at": api_key.revoked_at}, f"Revoked {api_key}.")
