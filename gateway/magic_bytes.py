"""Media types told by their first bytes: what an upstream's answer or a stored file really holds."""

from __future__ import annotations

#: Bytes needed to recognise a media type (RIFF containers need 12).
MAGIC_BYTES = 12


def matches_magic(kind: str, head: bytes) -> bool | None:
    """Whether ``head`` starts like a ``kind`` file; ``None`` for types the gateway cannot recognise."""
    if kind == "image/jpeg":
        return head.startswith(b"\xff\xd8\xff")
    if kind == "image/png":
        return head.startswith(b"\x89PNG\r\n\x1a\n")
    if kind == "image/webp":
        return head.startswith(b"RIFF") and head[8:12] == b"WEBP"
    if kind == "image/gif":
        return head.startswith(b"GIF8")
    if kind in ("audio/wav", "audio/x-wav", "audio/wave"):
        return head.startswith(b"RIFF") and head[8:12] == b"WAVE"
    if kind in ("audio/mpeg", "audio/mp3"):
        return head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)
    if kind in ("audio/ogg", "audio/opus"):
        return head.startswith(b"OggS")
    if kind == "audio/flac":
        return head.startswith(b"fLaC")
    return None


_IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")


def sniffed_image(head: bytes) -> str | None:
    """The image type ``head`` starts like, or ``None``."""
    return next((kind for kind in _IMAGE_TYPES if matches_magic(kind, head)), None)
