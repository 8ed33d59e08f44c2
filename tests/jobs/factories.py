"""Jobs as the worker leaves them, for tests of what is built on finished jobs (results, pages)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from accounts.models import Organization
from jobs.models import Job
from jobs.results import result_name, store_bytes
from jobs.types import JobStatus

#: The smallest valid PNG (1×1, transparent): a real image for pages and downloads.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000b49444154789c6360000200000500017a5eab3f"
    "0000000049454e44ae426082"
)


def finished_job_create_for_tests(
    *,
    organization: Organization,
    kind: str = "image",
    model: str = "flux",
    params: dict[str, Any] | None = None,
    result: bytes = PNG,
    content_type: str = "image/png",
) -> Job:
    """A succeeded job whose result is stored where the worker stores results."""
    now = timezone.now()
    job = Job.objects.create(
        organization=organization,
        kind=kind,
        model=model,
        params={"prompt": "a lighthouse at dusk", "model": model, "seed": 42} if params is None else params,
        status=JobStatus.SUCCEEDED,
        progress=100,
        finished_at=now,
        updated_at=now,
    )
    name = result_name(organization_id=organization.pk, job_id=job.id.hex, content_type=content_type)
    job.result_name = store_bytes(name, result)
    job.result_content_type, job.result_bytes = content_type, len(result)
    job.save(update_fields=["result_name", "result_content_type", "result_bytes"])
    return job
