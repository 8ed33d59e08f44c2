"""Deleting a job's result: the stored file goes, the job stays in the history (and the ledger keeps its charge)."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from accounts.models import AuditEvent, User
from accounts.services import audit_event_record, require_action
from jobs.events import RESULT_DELETED, publish_on_commit
from jobs.exceptions import JobResultNotFound
from jobs.models import Job
from jobs.types import JobStatus


def job_result_delete(*, job: Job, actor: User | None, ip: str | None = None) -> Job:
    """Delete ``job``'s stored result, audited; its signed result URLs stop working at once.

    The file is removed after the commit, so a rolled-back deletion never loses a result that the
    job still names.

    :param actor: the acting user, checked against the permission matrix (``None``: operator).
    :raises PermissionDenied: the actor's role may not delete results.
    :raises JobResultNotFound: the job has no stored result (already deleted, or not finished).
    """
    require_action(actor=actor, organization=job.organization, action="manage_results")
    with transaction.atomic():
        locked = Job.objects.select_for_update().filter(pk=job.pk).first()
        if locked is None or locked.status != JobStatus.SUCCEEDED or not locked.result_name:
            raise JobResultNotFound()
        name, size = locked.result_name, locked.result_bytes
        locked.result_name, locked.result_content_type, locked.result_bytes = "", "", None
        locked.updated_at = timezone.now()
        locked.save(update_fields=["result_name", "result_content_type", "result_bytes", "updated_at"])
        audit_event_record(
            action=AuditEvent.Action.RESULT_DELETED,
            actor=actor,
            organization=job.organization,
            ip=ip,
            target=f"job:{locked.pk}",
            detail={"kind": locked.kind, "model": locked.model, "bytes": size},
        )
        transaction.on_commit(lambda: default_storage.delete(name))
        publish_on_commit(locked, RESULT_DELETED)
    return locked
