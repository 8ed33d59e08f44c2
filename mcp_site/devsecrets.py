"""Development secrets: drawn at random once, then kept in a file every local process reads.

Without them each process (``make run``'s web server and worker, a shell) would draw its own
``SECRET_KEY`` and field encryption key, and could not read what another one signed or encrypted:
webhook secrets stored by the web process would be unreadable in the worker. Never used in
production, which requires both variables.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

__all__ = ["DEV_SECRET_NAMES", "dev_secrets"]

#: Each development secret the project draws at random, and how it is drawn.
DEV_SECRET_NAMES = {
    "SECRET_KEY": lambda: "django-insecure-" + secrets.token_urlsafe(50),
    "FIELD_ENCRYPTION_KEY": lambda: secrets.token_urlsafe(48),
}


def _read(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str) and v} if isinstance(data, dict) else {}


def dev_secrets(path: Path) -> dict[str, str]:
    """The development secrets kept in ``path`` (a JSON object, mode 0600), created once.

    Processes started together agree: the file is created exclusively, so when two race, the
    loser reads the winner's secrets. A secret missing from an older file is added.
    """
    kept = _read(path)
    if all(name in kept for name in DEV_SECRET_NAMES):
        return kept
    path.parent.mkdir(parents=True, exist_ok=True)
    drawn = {name: kept.get(name) or draw() for name, draw in DEV_SECRET_NAMES.items()}
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(drawn, handle, indent=1)
    try:
        if kept:
            os.replace(temporary, path)  # completing an older file: last writer wins, both values are fresh
        else:
            os.link(temporary, path)  # fails if another process created it first
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)
    return _read(path)
