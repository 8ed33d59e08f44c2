"""The public representation of a job: the API's answers and the webhooks' ``data``."""

from __future__ import annotations

from typing import Any

from jobs.events import job_state
from jobs.models import Job
from jobs.results import result_url
from jobs.types import JobStatus


def job_links(job: Job) -> dict[str, str]:
    base = job.public_base_url
    return {"self": f"{base}/v1/jobs/{job.id}", "websocket": f"{base.replace('http', 'ws', 1)}/ws/jobs/"}


def job_payload(job: Job) -> dict[str, Any]:
    """Everything a client may see of a job; a finished job carries a fresh signed result URL."""
    payload = {
        **job_state(job),
        "object": "job",
        "max_attempts": job.max_attempts,
        "usage": job.usage,
        "links": job_links(job),
        "result": None,
    }
    if job.status == JobStatus.SUCCEEDED and job.result_name:
        url, expires = result_url(job_id=str(job.id), base_url=job.public_base_url)
        payload["result"] = {
            "url": url,
            "expires_at": expires,
            "content_type": job.result_content_type,
            "bytes": job.result_bytes,
        }
    return payload
