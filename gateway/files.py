"""Files the gateway keeps in storage and serves through signed, expiring URLs (job results, generated images).

Files live in Django's default storage (the file system by default; any Django storage, e.g.
S3-compatible, through ``STORAGE_BACKEND``). A download URL carries an expiry and an HMAC
(Django's signing, keyed by ``SECRET_KEY``, salted per kind of file) over what it names and that
expiry, so it can be handed to a browser or a webhook receiver without an API key, and it stops
working when it expires (``JOBS_RESULT_URL_SECONDS``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import HttpResponse

from core.errors import HttpError
from core.numbers import plain_int
from gateway.magic_bytes import MAGIC_BYTES, sniffed_image

__all__ = [
    "file_response",
    "read_bytes",
    "require_signature",
    "signature_valid",
    "signed_query",
    "sniff_image",
    "store_bytes",
]

#: Browsers and clients may keep a downloaded file this long (it never changes under its URL).
_CACHE_CONTROL = "private, max-age=300"


def store_bytes(name: str, data: bytes) -> str:
    """Save ``data`` under ``name`` (replacing what a failed earlier attempt left); returns the stored name."""
    if default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(data))


def read_bytes(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return handle.read()


def signed_query(subject: str, *, salt: str, ttl_seconds: int | None = None) -> tuple[str, int]:
    """``expires=…&signature=…`` for ``subject``, valid for ``ttl_seconds``; returns it and the expiry (Unix time)."""
    expires = int(time.time()) + (ttl_seconds or settings.JOBS_RESULT_URL_SECONDS)
    signature = signing.Signer(salt=salt).signature(f"{subject}:{expires}")
    return f"expires={expires}&signature={signature}", expires


def signature_valid(subject: str, *, salt: str, expires: str, signature: str) -> bool:
    """Whether a signed URL's signature matches ``subject`` and has not expired."""
    deadline = plain_int(expires)
    if deadline is None or deadline < time.time():
        return False
    try:
        signing.Signer(salt=salt).unsign(f"{subject}:{expires}:{signature}")
    except signing.BadSignature:
        return False
    return True


def require_signature(subject: str, *, salt: str, query: Mapping[str, str], hint: str) -> None:
    """Refuse (403 ``result_link_invalid``) a request whose ``expires``/``signature`` do not sign ``subject``."""
    if not signature_valid(subject, salt=salt, expires=query.get("expires", ""), signature=query.get("signature", "")):
        raise HttpError(
            403, f"This link is invalid or has expired: {hint}", type="permission_error", code="result_link_invalid"
        )


async def file_response(name: str, content_type: str, *, missing: str) -> HttpResponse:
    """The stored file as one response (files are bounded, so one read in a thread beats a hop per chunk).

    :param missing: the message of the ``404 result_not_found`` answered when the file is no longer
        stored (purged after its retention, or deleted), which a signed URL may outlive.
    """
    try:
        body = await sync_to_async(read_bytes)(name)
    except FileNotFoundError:
        raise HttpError(404, missing, type="not_found_error", code="result_not_found") from None
    response = HttpResponse(body, content_type=content_type or "application/octet-stream")
    response["Cache-Control"] = _CACHE_CONTROL
    return response


def sniff_image(data: bytes) -> str:
    """The content type of image bytes, from their first bytes."""
    return sniffed_image(data[:MAGIC_BYTES]) or "application/octet-stream"
