"""Image endpoints: gen ``/image/{prompt}``, legacy ``/prompt/{prompt}`` and ``/v1/images/*``."""

import base64
import hashlib
import re
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote, urlencode

from simulator import auth
from simulator.errors import SimError
from simulator.models import DEFAULT_IMAGE_MODEL, IMAGE_BY_NAME
from simulator.multipart import parse_multipart
from simulator.params import (
    FieldErrors,
    lenient_bool,
    lenient_int,
    split_urls,
    strict_bool,
    strict_enum,
    strict_int,
)
from simulator.render import MAX_SIDE
from simulator.request import Request
from simulator.response import IMMUTABLE, Response, binary_response, header, json_response
from simulator.state import State

QUALITIES = ("low", "medium", "high", "hd")
OPENAI_QUALITIES = ("standard", "hd", "low", "medium", "high")
SAFE_OPTIONS = ("privacy", "secrets", "sexual", "violence", "shield", "true", "nsfw", "false")
MAX_SEED = 2147483647
LEGACY_SEED = 42
DEFAULT_SIDE = 1024
_SIZE = re.compile(r"^(\d{1,5})x(\d{1,5})$")


@dataclass(frozen=True, slots=True)
class ImageParams:
    """Normalised image parameters; every field but ``private`` shapes the picture."""

    prompt: str
    model: str
    width: int
    height: int
    seed: int
    transparent: bool = False
    enhance: bool = False
    nologo: bool = False
    quality: str = "medium"
    safe: str = ""
    images: tuple[str, ...] = ()
    negative_prompt: str = ""
    private: bool = False

    def cache_key(self) -> str:
        """The identity of the picture (a seed of -1 is replaced by a random one first)."""
        fields = asdict(self)
        fields.pop("private")
        return repr(sorted(fields.items()))


def _random_seed(seed: int) -> int:
    """Seed -1 asks for a fresh random picture."""
    return secrets.randbelow(MAX_SEED) if seed == -1 else seed


def parse_gen_params(prompt: str, query: dict[str, str]) -> ImageParams:
    """Validate gen's image query strictly; a 400 with ``fieldErrors`` on any bad value."""
    errors = FieldErrors()
    if not prompt:
        errors.add("prompt", "String must contain at least 1 character(s)")
    model = strict_enum(query, "model", IMAGE_BY_NAME, DEFAULT_IMAGE_MODEL, errors)
    width = strict_int(query, "width", DEFAULT_SIDE, 0, MAX_SIDE, errors) or DEFAULT_SIDE
    height = strict_int(query, "height", DEFAULT_SIDE, 0, MAX_SIDE, errors) or DEFAULT_SIDE
    seed = strict_int(query, "seed", 0, -1, MAX_SEED, errors)
    flags = {name: strict_bool(query, name, errors) for name in ("transparent", "enhance", "nologo")}
    private = strict_bool(query, "private", errors) or strict_bool(query, "nofeed", errors)
    quality = strict_enum(query, "quality", QUALITIES, "medium", errors)
    strict_int(query, "duration", 0, 1, 120, errors)
    safe = query.get("safe", "")
    if any(option not in SAFE_OPTIONS for option in filter(None, safe.lower().split(","))):
        errors.add("safe", f"Expected a comma list of {', '.join(SAFE_OPTIONS)}")
    images = split_urls(query.get("image", ""))
    if any(not url.startswith(("http://", "https://")) for url in images):
        errors.add("image", "Each image must be an http(s) URL")
    errors.raise_if_any()
    return ImageParams(
        prompt,
        IMAGE_BY_NAME[model].name,
        width,
        height,
        _random_seed(seed),
        quality=quality,
        safe=safe,
        images=tuple(images),
        negative_prompt=query.get("negative_prompt", ""),
        private=private,
        **flags,
    )


def parse_legacy_params(prompt: str, query: dict[str, str]) -> ImageParams:
    """Parse the legacy image query leniently: bad values fall back instead of failing."""
    model = IMAGE_BY_NAME.get(query.get("model", ""), IMAGE_BY_NAME[DEFAULT_IMAGE_MODEL]).name
    seed = -1 if query.get("seed") == "-1" else lenient_int(query.get("seed"), LEGACY_SEED, 0, MAX_SEED)
    width = lenient_int(query.get("width"), DEFAULT_SIDE, 1, 1 << 20)
    height = lenient_int(query.get("height"), DEFAULT_SIDE, 1, 1 << 20)
    scale = min(1.0, MAX_SIDE / max(width, height))  # shrink keeping the aspect, as Ci does
    quality = query.get("quality", "medium")
    return ImageParams(
        prompt=prompt or "random_prompt",
        model=model,
        width=max(1, int(width * scale)),
        height=max(1, int(height * scale)),
        seed=_random_seed(seed),
        transparent=lenient_bool(query.get("transparent")),
        enhance=lenient_bool(query.get("enhance")),
        nologo=lenient_bool(query.get("nologo")),
        quality=quality if quality in QUALITIES else "medium",
        safe="true" if lenient_bool(query.get("safe")) else "",
        images=tuple(split_urls(query.get("image", ""))),
        negative_prompt=query.get("negative_prompt", "worst quality, blurry"),
        private=lenient_bool(query.get("private")) or lenient_bool(query.get("nofeed")),
    )


def _slug(prompt: str) -> str:
    """A filesystem-friendly name for Content-Disposition."""
    return re.sub(r"[^a-z0-9]+", "-", prompt.lower()).strip("-")[:50] or "image"


async def _picture(state: State, params: ImageParams, extra_key: str = "") -> bytes:
    """Render (or fetch from the LRU) the picture for ``params``."""
    key = params.cache_key() + extra_key
    return await state.images.get(key, params.width, params.height, params.transparent)


async def gen_image(request: Request, state: State) -> Response:
    """``GET /image/{prompt}`` (gen)."""
    params = parse_gen_params(request.tail("/image/"), request.query)
    auth.check_model(request, params.model)
    data = await _picture(state, params)
    extension, content_type = ("png", "image/png") if params.transparent else ("jpg", "image/jpeg")
    return binary_response(
        data,
        content_type,
        [
            (b"cache-control", IMMUTABLE),
            header("content-disposition", f'inline; filename="{_slug(params.prompt)}.{extension}"'),
            header("x-model-used", params.model),
            (b"x-usage-completion-image-tokens", b"1"),
        ],
    )


async def legacy_image(request: Request, state: State) -> Response:
    """``GET /prompt/{prompt}`` (legacy image host)."""
    params = parse_legacy_params(request.tail("/prompt/"), request.query)
    token = auth.extract_token(request)
    tier = auth.legacy_tier(token)
    model_tier = IMAGE_BY_NAME[params.model].tier
    if not auth.tier_allows(tier, model_tier):
        raise SimError(402, f"Model '{params.model}' requires the {model_tier} tier or higher")
    data = await _picture(state, params)
    if not params.private:
        state.image_feed.publish(_feed_event(params, auth.extract_referrer(request)))
    return binary_response(
        data,
        "image/jpeg",
        [  # Ci labels PNG output image/jpeg too
            (b"cache-control", IMMUTABLE),
            header("content-disposition", f'inline; filename="{_slug(params.prompt)}.jpg"'),
            header("x-auth-status", "authenticated" if token else "unauthenticated"),
            header("x-model-used", params.model),
            (b"x-completion-image-tokens", b"1"),
        ],
    )


def _feed_event(params: ImageParams, referrer: str | None) -> dict[str, Any]:
    """A legacy image feed event (section 5)."""
    query = urlencode({"width": params.width, "height": params.height, "seed": params.seed, "model": params.model})
    return {
        **{k: v for k, v in asdict(params).items() if k not in ("images", "transparent")},
        "imageURL": f"https://image.pollinations.ai/prompt/{quote(params.prompt, safe='')}?{query}",
        "nofeed": params.private,
        "isMature": False,
        "nsfw": False,
        "status": "end_generating",
        "referrer": referrer,
    }


def _openai_fields(values: dict[str, Any], errors: FieldErrors) -> tuple[str, str, int, int]:
    """Validate the fields shared by generations and edits: prompt, model, size."""
    prompt = values.get("prompt")
    if not isinstance(prompt, str) or not 1 <= len(prompt) <= 32000:
        errors.add("prompt", "String must contain between 1 and 32000 character(s)")
        prompt = ""
    model = strict_enum(values, "model", IMAGE_BY_NAME, DEFAULT_IMAGE_MODEL, errors)
    match = _SIZE.match(str(values.get("size") or "1024x1024"))
    width, height = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        errors.add("size", f"Expected WIDTHxHEIGHT with sides between 1 and {MAX_SIDE}")
    return prompt, IMAGE_BY_NAME[model].name, width, height


async def _openai_image(
    request: Request, state: State, values: dict[str, Any], errors: FieldErrors, extra_key: str
) -> Response:
    """Validate, render and wrap one picture as an OpenAI images response."""
    prompt, model, width, height = _openai_fields(values, errors)
    n = strict_int(values, "n", 1, 1, 1, errors)
    strict_enum(values, "quality", OPENAI_QUALITIES, "medium", errors)
    response_format = strict_enum(values, "response_format", ("url", "b64_json"), "b64_json", errors)
    errors.raise_if_any()
    auth.check_model(request, model)
    params = ImageParams(prompt, model, width, height, seed=0)
    item: dict[str, Any] = {"revised_prompt": prompt}
    if response_format == "url":
        host = request.headers.get("host", "gen.pollinations.ai")
        query = urlencode({"model": model, "width": width, "height": height, "seed": 0})
        item["url"] = f"http://{host}/image/{quote(prompt, safe='')}?{query}"
    else:
        item["b64_json"] = base64.b64encode(await _picture(state, params, extra_key)).decode()
    headers = [header("x-model-used", model), header("x-usage-completion-image-tokens", n)]
    return json_response({"created": int(time.time()), "data": [item]}, headers=headers)


async def images_generations(request: Request, state: State) -> Response:
    """``POST /v1/images/generations``."""
    return await _openai_image(request, state, request.json_object(), FieldErrors(), "")


async def images_edits(request: Request, state: State) -> Response:
    """``POST /v1/images/edits``: JSON with image URLs, or multipart with image files."""
    errors = FieldErrors()
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        parts = parse_multipart(content_type, request.body)
        values: dict[str, Any] = {name: p[0].text() for name, p in parts.items() if not p[0].filename}
        files = [part.data for name in ("image", "image[]") for part in parts.get(name, [])]
        sources = [hashlib.sha256(data).hexdigest() for data in files]
    else:
        values = request.json_object()
        image = values.get("image")
        sources = [image] if isinstance(image, str) else list(image or [])
        if any(not isinstance(url, str) or not url.startswith(("http://", "https://")) for url in sources):
            errors.add("image", "Each image must be an http(s) URL")
    if not sources:
        errors.add("image", "Required")
    return await _openai_image(request, state, values, errors, "|edit|" + ",".join(map(str, sources)))
