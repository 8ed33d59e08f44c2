"""Parameter parsing by era: gen is strict (collects field errors), legacy is lenient."""

from collections.abc import Collection, Mapping
from typing import Any

from simulator.errors import ValidationError

_TRUE = ("true", "1")
_FALSE = ("false", "0")


class FieldErrors:
    """Collects per-field messages so one 400 can report every bad field at once."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        """Record a problem with ``name``."""
        self.errors.setdefault(name, []).append(message)

    def raise_if_any(self) -> None:
        """Raise the 400 ValidationError when anything was recorded."""
        if self.errors:
            raise ValidationError(self.errors)


def strict_int(values: Mapping[str, Any], name: str, default: int, low: int, high: int, errors: FieldErrors) -> int:
    """An integer in ``[low, high]``; records an error otherwise."""
    raw = values.get(name)
    if raw is None or raw == "":
        return default
    try:
        number = int(raw) if not isinstance(raw, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None:
        errors.add(name, "Expected integer")
        return default
    if not low <= number <= high:
        errors.add(name, f"Number must be between {low} and {high}")
        return default
    return number


def strict_bool(values: Mapping[str, Any], name: str, errors: FieldErrors) -> bool:
    """``true``/``false``/``1``/``0`` (or a JSON boolean); records an error otherwise."""
    raw = values.get(name)
    if raw is None or raw == "" or isinstance(raw, bool):
        return bool(raw)
    text = str(raw).lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    errors.add(name, "Expected boolean")
    return False


def strict_enum(
    values: Mapping[str, Any],
    name: str,
    choices: Collection[str],
    default: str,
    errors: FieldErrors,
) -> str:
    """One of ``choices`` (empty means ``default``); records an error otherwise."""
    raw = values.get(name)
    if raw is None or raw == "":
        return default
    if raw not in choices:
        errors.add(name, f"Invalid enum value. Expected {' | '.join(sorted(choices))}, received '{raw}'")
        return default
    return str(raw)


def lenient_bool(raw: Any) -> bool:
    """Legacy rule: only the string ``true`` (any case) or JSON ``true`` is true."""
    return raw is True or (isinstance(raw, str) and raw.lower() == "true")


def lenient_int(raw: Any, default: int, low: int, high: int) -> int:
    """Legacy rule: anything unparsable or out of range becomes ``default``."""
    try:
        number = int(raw)
    except (TypeError, ValueError):
        return default
    return number if low <= number <= high else default


def split_urls(raw: str) -> list[str]:
    """Split an ``image`` parameter: ``|`` wins over ``,`` as the separator."""
    if not raw:
        return []
    separator = "|" if "|" in raw else ","
    return [part.strip() for part in raw.split(separator) if part.strip()]
