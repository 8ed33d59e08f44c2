"""Structured logging: JSON lines in production, readable console lines in development.

Both structlog and the standard library's loggers (Django's included) go through one
``ProcessorFormatter``, so every line carries the same fields — among them the ``request_id``
bound by :mod:`mcp_site.middleware` for the duration of a request.
"""

from __future__ import annotations

from typing import Any

import structlog

_SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def _renderer(log_format: str) -> Any:
    if log_format == "json":
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=False)


def build_logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """Return Django's ``LOGGING`` dict routing every logger through structlog's formatter."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    # Tracebacks become a field in JSON; they never reach an HTTP response.
                    structlog.processors.format_exc_info if log_format == "json" else _noop,
                    _renderer(log_format),
                ],
                "foreign_pre_chain": _SHARED_PROCESSORS,
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Our own access log replaces Django's per-request lines.
            "django.request": {"level": "ERROR"},
            "django.server": {"level": "WARNING"},
        },
    }


def _noop(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
    return event


def configure_structlog(*, log_format: str) -> None:
    """Configure structlog once; loggers are cached on first use, so it stays cheap per call."""
    structlog.configure(
        processors=[*_SHARED_PROCESSORS, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
