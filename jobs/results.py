"""Job inputs and results in Django's storage, and the signed, expiring URLs that serve results.

Files live under ``jobs/<organisation id>/<job id>/`` in the default storage (the file system by
default; any Django storage, e.g. S3-compatible, through ``STORAGE_BACKEND``). A result URL
carries an expiry and an HMAC (Django's signing, keyed by ``SECRET_KEY``) over the job id and
that expiry, so it can be handed to a browser or a webhook receiver without an API key, and it
stops working when it expires.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import time

from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

__all__ = ["result_downloadable", "result_name", "result_signature_valid", "result_url", "store_bytes"]

_SALT = "jobs.result-url"
_EXTENSIONS = {"application/json": ".json", "audio/mpeg": ".mp3", "text/plain": ".txt", "image/jpeg": ".jpg"}


def result_name(*, organization_id: int, job_id: str, content_type: str, stem: str = "result") -> str:
    extension = _EXTENSIONS.get(content_type.split(";")[0].strip()) or mimetypes.guess_extension(
        content_type.split(";")[0].strip()
    )
    return f"jobs/{organization_id}/{job_id}/{stem}{extension or '.bin'}"


def store_bytes(name: str, data: bytes) -> str:
    """Save ``data`` under ``name`` (replacing what a failed earlier attempt left); returns the stored name."""
    if default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(data))


def _signer() -> signing.Signer:
    return signing.Signer(salt=_SALT)


def result_url(*, job_id: str, base_url: str = "", ttl_seconds: int | None = None) -> tuple[str, int]:
    """A URL of the job's result valid for ``ttl_seconds``; returns the URL and its expiry (Unix time)."""
    expires = int(time.time()) + (ttl_seconds or settings.JOBS_RESULT_URL_SECONDS)
    signature = _signer().signature(f"{job_id}:{expires}")
    return f"{base_url}/v1/jobs/{job_id}/result?expires={expires}&signature={signature}", expires


def result_signature_valid(*, job_id: str, expires: str, signature: str) -> bool:
    """Whether a result URL's signature matches and has not expired."""
    if not expires.isdigit() or int(expires) < time.time():
        return False
    try:
        _signer().unsign(f"{job_id}:{expires}:{signature}")
    except signing.BadSignature:
        return False
    return True


_IMAGE_MAGIC = ((b"\xff\xd8", "image/jpeg"), (b"\x89PNG", "image/png"), (b"RIFF", "image/webp"))


def result_downloadable(*, kind: str, body: bytes, content_type: str) -> tuple[bytes, str]:
    """An image job's result is the image itself (decoded from OpenAI's ``b64_json``), not its JSON envelope."""
    if kind != "image" or not content_type.startswith("application/json"):
        return body, content_type
    try:
        image = base64.b64decode(json.loads(body)["data"][0]["b64_json"], validate=True)
    except (ValueError, KeyError, IndexError, TypeError):
        return body, content_type  # e.g. response_format=url: keep the JSON as it came
    found = next((name for magic, name in _IMAGE_MAGIC if image.startswith(magic)), "application/octet-stream")
    return image, found
