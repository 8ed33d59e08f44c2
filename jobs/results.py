"""Job inputs and results in Django's storage, and the signed, expiring URLs that serve results.

Files live under ``jobs/<organisation id>/<job id>/``; storing, signing and serving them is
:mod:`gateway.files`, shared with the images ``/v1/images/generations`` answers by URL. A result
URL signs the job id and its expiry, so it can be handed to a browser or a webhook receiver
without an API key, and it stops working when it expires.
"""

from __future__ import annotations

import base64
import json
import mimetypes

from gateway.files import signature_valid, signed_query, sniff_image, store_bytes

__all__ = ["job_directory", "result_downloadable", "result_name", "result_signature_valid", "result_url", "store_bytes"]

SALT = "jobs.result-url"
_EXTENSIONS = {"application/json": ".json", "audio/mpeg": ".mp3", "text/plain": ".txt", "image/jpeg": ".jpg"}


def job_directory(*, organization_id: int, job_id: str) -> str:
    """Where a job's input and result files are stored (``job_id`` as hex), ending in ``/``."""
    return f"jobs/{organization_id}/{job_id}/"


def result_name(*, organization_id: int, job_id: str, content_type: str, stem: str = "result") -> str:
    extension = _EXTENSIONS.get(content_type.split(";")[0].strip()) or mimetypes.guess_extension(
        content_type.split(";")[0].strip()
    )
    return f"{job_directory(organization_id=organization_id, job_id=job_id)}{stem}{extension or '.bin'}"


def result_url(*, job_id: str, base_url: str = "", ttl_seconds: int | None = None) -> tuple[str, int]:
    """A URL of the job's result valid for ``ttl_seconds``; returns the URL and its expiry (Unix time)."""
    query, expires = signed_query(job_id, salt=SALT, ttl_seconds=ttl_seconds)
    return f"{base_url}/v1/jobs/{job_id}/result?{query}", expires


def result_signature_valid(*, job_id: str, expires: str, signature: str) -> bool:
    """Whether a result URL's signature matches and has not expired."""
    return signature_valid(job_id, salt=SALT, expires=expires, signature=signature)


def result_downloadable(*, kind: str, body: bytes, content_type: str) -> tuple[bytes, str]:
    """An image job's result is the image itself (decoded from OpenAI's ``b64_json``), not its JSON envelope."""
    if kind != "image" or not content_type.startswith("application/json"):
        return body, content_type
    try:
        image = base64.b64decode(json.loads(body)["data"][0]["b64_json"], validate=True)
    except (ValueError, KeyError, IndexError, TypeError):
        return body, content_type  # e.g. response_format=url: keep the JSON as it came
    return image, sniff_image(image)
