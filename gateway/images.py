"""``response_format="url"`` for generated images: the gateway's own signed, expiring URL, never the upstream's.

The upstream is always asked for ``b64_json``; when the client asked for URLs, each image is
decoded, kept in storage under an unguessable name (:mod:`gateway.files`, as job results are) and
replaced in the answer by ``{base}/v1/images/files/<name>?expires=…&signature=…``. So the answer
names no upstream host, the image is fetched through the gateway, and the link stops working when
it expires (``JOBS_RESULT_URL_SECONDS``).
"""

from __future__ import annotations

import base64
import binascii
import json
import mimetypes
import uuid

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from core.errors import READ_METHODS, HttpError, require_method
from gateway.files import file_response, require_signature, signed_query, sniff_image, store_bytes

SALT = "gateway.image-url"
#: Where generated images live in storage, and the URL path that serves them.
STORAGE_DIR = "images"
URL_PATH = "/v1/images/files/"
URL_PATTERN = r"^v1/images/files/(?P<filename>[0-9a-f]{32}\.(?:jpg|png|webp|gif|bin))$"
_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif"}


def wants_url(payload: dict) -> bool:
    """Whether the client asked for URLs; if so, the upstream is asked for ``b64_json`` instead."""
    if payload.get("response_format") != "url":
        return False
    payload["response_format"] = "b64_json"
    return True


async def answer_with_urls(response: HttpResponseBase, request: HttpRequest) -> HttpResponseBase:
    """Replace each ``b64_json`` image of a successful JSON answer by a signed gateway URL."""
    if response.status_code != 200 or not isinstance(response, HttpResponse):
        return response
    try:
        body = json.loads(response.content)
        items = body["data"]
        images = [base64.b64decode(item.pop("b64_json"), validate=True) for item in items]
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        raise HttpError(
            502, "The upstream provider sent a malformed image answer.", type="upstream_error", code="upstream_error"
        ) from None
    base = request.build_absolute_uri("/").rstrip("/")
    for item, image in zip(items, images, strict=True):
        extension = _EXTENSIONS.get(sniff_image(image), ".bin")
        filename = f"{uuid.uuid4().hex}{extension}"
        await sync_to_async(store_bytes)(f"{STORAGE_DIR}/{filename}", image)
        query, _ = signed_query(filename, salt=SALT)
        item["url"] = f"{base}{URL_PATH}{filename}?{query}"
    response.content = json.dumps(body).encode()
    return response


async def image_file(request: HttpRequest, filename: str) -> HttpResponse:
    """``GET /v1/images/files/<name>``: a generated image, for whoever holds an unexpired signed URL."""
    require_method(request.method, *READ_METHODS)
    require_signature(filename, salt=SALT, query=request.GET, hint="generate the image again for a fresh one.")
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return await file_response(
        f"{STORAGE_DIR}/{filename}", content_type, missing="This image is no longer stored: generate it again."
    )
