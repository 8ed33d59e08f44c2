"""Shared output for the operator commands: human text, or one JSON object with ``--json``."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.exceptions import ApplicationError


def add_json_flag(parser: ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="Print one machine-readable JSON object.")


def emit(command: BaseCommand, options: dict[str, Any], data: dict[str, Any], text: str) -> None:
    command.stdout.write(json.dumps(data, default=str) if options["json"] else text)


def command_error(exc: ApplicationError) -> CommandError:
    where = f" ({exc.param})" if exc.param else ""
    return CommandError(f"{exc.message}{where}")
