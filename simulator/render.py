"""Cheap deterministic pictures: a few hash-coloured bands, encoded once and kept in an LRU."""

import asyncio
import hashlib
import io
from collections import OrderedDict

from PIL import Image

MAX_SIDE = 2048  # bounds memory: the largest frame is 2048 x 2048 x 4 bytes
CACHE_BYTES = 64 * 1024 * 1024
CACHE_ENTRIES = 512
JPEG_QUALITY = 80


class ImageCache:
    """A bounded LRU of encoded images, keyed by everything that shapes the picture."""

    def __init__(self, max_bytes: int = CACHE_BYTES, max_entries: int = CACHE_ENTRIES) -> None:
        self._items: OrderedDict[bytes, bytes] = OrderedDict()
        self._bytes = 0
        self._max_bytes = max_bytes
        self._max_entries = max_entries

    async def get(self, key: str, width: int, height: int, png: bool) -> bytes:
        """The encoded image for ``key``; encodes off the event loop on a miss."""
        digest = hashlib.sha256(f"{key}|{width}x{height}|{png}".encode()).digest()
        cached = self._items.get(digest)
        if cached is not None:
            self._items.move_to_end(digest)
            return cached
        # Pillow releases the GIL while encoding, so large frames do not stall other requests.
        data = await asyncio.to_thread(draw, digest, width, height, png)
        self._put(digest, data)
        return data

    def _put(self, digest: bytes, data: bytes) -> None:
        """Insert, evicting the least recently used entries past either bound."""
        self._items[digest] = data
        self._bytes += len(data)
        while self._items and (self._bytes > self._max_bytes or len(self._items) > self._max_entries):
            _, evicted = self._items.popitem(last=False)
            self._bytes -= len(evicted)


def draw(digest: bytes, width: int, height: int, png: bool) -> bytes:
    """Paint 3-6 bands coloured from ``digest`` and encode as JPEG, or RGBA PNG when ``png``."""
    mode = "RGBA" if png else "RGB"
    image = Image.new(mode, (width, height))
    bands = 3 + digest[0] % 4
    vertical = digest[1] % 2 == 0
    extent = width if vertical else height
    for index in range(bands):
        start = extent * index // bands
        end = extent * (index + 1) // bands
        if end <= start:
            continue
        base = 2 + index * 4
        colour = (digest[base], digest[base + 1], digest[base + 2], digest[base + 3] | 0x40)
        box = (start, 0, end, height) if vertical else (0, start, width, end)
        image.paste(colour[: len(mode)], box)
    out = io.BytesIO()
    if png:
        image.save(out, "PNG", compress_level=1)
    else:
        image.save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()
