"""Create a user and give them a role: ``manage.py create_user --email a@x.io --org acme --role owner``.

The password comes from ``--password-env VAR`` (never the command line, which other users can see);
without it the account has no usable password (OpenID Connect or a password reset signs it in).
"""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts import services
from accounts.exceptions import ApplicationError
from accounts.management.commands._output import add_json_flag, command_error, emit
from accounts.models import Membership, Organization, User
from accounts.roles import ROLES


class Command(BaseCommand):
    help = "Create a user (or find it) and give it a role in an organisation."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--org", help="Organisation slug to add the user to.")
        parser.add_argument("--role", choices=ROLES, default="developer")
        parser.add_argument("--password-env", help="Name of an environment variable holding the password.")
        parser.add_argument("--staff", action="store_true", help="Allow the admin back-office (no rights yet).")
        parser.add_argument("--superuser", action="store_true")
        add_json_flag(parser)

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        password = None
        if options["password_env"]:
            password = os.environ.get(options["password_env"])
            if not password:
                raise CommandError(f"The environment variable {options['password_env']} is empty or unset.")
        email = options["email"].strip().lower()
        existing = User.objects.filter(email=email).first()
        created = existing is None
        if existing is None:
            extra = {"is_staff": options["staff"] or options["superuser"], "is_superuser": options["superuser"]}
            user = User.objects.create_user(email=email, password=password, **extra)
        else:
            user = existing
            if password:
                user.set_password(password)
                user.save(update_fields=["password"])
        role = None
        if options["org"]:
            organization = Organization.objects.filter(slug=options["org"]).first()
            if organization is None:
                raise CommandError(f"No organisation {options['org']!r}: create it with create_organization first.")
            membership = Membership.objects.filter(user=user, organization=organization).first()
            try:
                if membership is None:
                    services.membership_add(organization=organization, user=user, role=options["role"])
                elif membership.role != options["role"]:
                    services.membership_role_change(membership=membership, role=options["role"])
            except ApplicationError as exc:
                raise command_error(exc) from exc
            role = options["role"]
        emit(
            self,
            options,
            {"id": user.pk, "email": user.email, "created": created, "organization": options["org"], "role": role},
            f"{'Created' if created else 'Found'} user {user.email}"
            + (f", {role} of {options['org']}." if role else "."),
        )
