"""Media types told by their first bytes, for upstream answers and stored files alike."""

from __future__ import annotations

import pytest

from gateway.files import sniff_image
from gateway.magic_bytes import matches_magic, sniffed_image

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 8
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 "
GIF = b"GIF89a" + b"\x00" * 6
WAV = b"RIFF\x10\x00\x00\x00WAVEfmt "


@pytest.mark.parametrize(
    ("head", "kind"), [(PNG, "image/png"), (JPEG, "image/jpeg"), (WEBP, "image/webp"), (GIF, "image/gif")]
)
def test_each_image_type_is_recognised_by_its_signature(head, kind):
    assert sniffed_image(head) == kind
    assert sniff_image(head + b"rest of the file") == kind


@pytest.mark.parametrize("head", [WAV, b"\x89PNG but not really", b"\xff\xd8 truncated", b"", b"<html>"])
def test_what_is_not_an_image_is_not_taken_for_one(head):
    """A RIFF container is WebP only when it says so: a WAV file is not an image."""
    assert sniffed_image(head) is None
    assert sniff_image(head) == "application/octet-stream"


def test_a_declared_type_is_checked_against_the_bytes_and_unknown_types_are_not_judged():
    assert matches_magic("audio/wav", WAV) is True
    assert matches_magic("image/webp", WAV) is False
    assert matches_magic("audio/mpeg", b"ID3\x04") is True
    assert matches_magic("application/x-unknown", b"anything") is None
