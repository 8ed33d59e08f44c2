"""Names shared by the jobs modules: job kinds, states and event types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import models

if TYPE_CHECKING:
    from plugins.types import Operation

__all__ = ["KIND_OPERATION", "TERMINAL", "WEBHOOK_EVENT_TYPES", "JobKind", "JobStatus", "PurgeOutcome"]


class JobKind(models.TextChoices):
    IMAGE = "image"
    TEXT = "text"
    SPEECH = "speech"
    TRANSCRIPTION = "transcription"


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})

#: The gateway operation (``plugins.types.Operation``) that executes each job kind.
KIND_OPERATION: dict[str, Operation] = {
    JobKind.IMAGE: "image",
    JobKind.TEXT: "chat",
    JobKind.SPEECH: "speech",
    JobKind.TRANSCRIPTION: "transcription",
}

#: Events a webhook endpoint may subscribe to (every status change is also sent over the WebSocket).
WEBHOOK_EVENT_TYPES: tuple[str, ...] = ("job.running", "job.succeeded", "job.failed", "job.cancelled")


@dataclass(frozen=True)
class PurgeOutcome:
    """What one run of the purge of expired files deleted.

    :param images: generated images (``response_format="url"``) whose links had expired.
    :param jobs: finished jobs past ``JOBS_RETENTION_DAYS``, deleted with their files.
    :param job_files: the stored inputs and results of those jobs.
    :param more: the run stopped at its bound with expired files left: run again soon.
    """

    images: int = 0
    jobs: int = 0
    job_files: int = 0
    more: bool = False
