"""Create an organisation non-interactively: ``manage.py create_organization --slug acme --name Acme``."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from accounts import services
from accounts.exceptions import ApplicationError
from accounts.management.commands._output import add_json_flag, command_error, emit
from accounts.models import Organization


class Command(BaseCommand):
    help = "Create an organisation (idempotent with --if-missing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", help="Display name (default: the slug).")
        parser.add_argument("--if-missing", action="store_true", help="Succeed quietly if the slug exists.")
        add_json_flag(parser)

    def handle(self, *args, **options) -> None:
        existing = Organization.objects.filter(slug=options["slug"]).first()
        if existing is not None and options["if_missing"]:
            organization, created = existing, False
        else:
            try:
                organization = services.organization_create(
                    name=options["name"] or options["slug"], slug=options["slug"]
                )
            except ApplicationError as exc:
                raise command_error(exc) from exc
            created = True
        emit(
            self,
            options,
            {"id": organization.pk, "slug": organization.slug, "name": organization.name, "created": created},
            f"{'Created' if created else 'Found'} organisation {organization.slug} (id {organization.pk}).",
        )
