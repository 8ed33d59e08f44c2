"""Audio bytes: silent MP3 frames and RIFF/WAVE that carry their text, and reading it back.

Speech lasts ``SECONDS_PER_CHAR`` per input character. MP3 output is an ID3v2.4 tag (a TXXX
frame ``simulator-text`` holding the input) followed by MPEG-1 Layer III frames of silence;
WAV output is 8 kHz mono 16-bit PCM silence with the input in a ``LIST``/``INFO``/``ICMT``
chunk. ``transcribe`` returns that embedded text, or a sentence derived from the bytes' hash.
``opus``/``aac``/``flac`` are placeholders: the format's magic bytes plus silence, not decodable.
"""

import hashlib
import math
import struct

SECONDS_PER_CHAR = 0.05
MIN_SECONDS = 0.5
WAV_RATE = 8000
ID3_DESCRIPTION = b"simulator-text"
# MPEG-1 Layer III, no CRC, 32 kbit/s, 44.1 kHz, no padding, mono. Frame = 144*32000/44100 bytes.
MP3_HEADER = b"\xff\xfb\x10\xc4"
MP3_FRAME_BYTES = 104
MP3_FRAME_SECONDS = 1152 / 44100
# A zero side-info block (main_data_begin 0, part2_3_length 0) decodes to silence.
MP3_SILENT_FRAME = MP3_HEADER + bytes(MP3_FRAME_BYTES - len(MP3_HEADER))
CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "pcm": "audio/pcm",
    "pcm16": "audio/pcm",
}
_PLACEHOLDER_MAGIC = {"opus": b"OggS", "aac": b"\xff\xf1", "flac": b"fLaC"}
_WORDS = (
    "amber",
    "river",
    "quiet",
    "signal",
    "orbit",
    "maple",
    "copper",
    "harbor",
    "lantern",
    "meadow",
    "pixel",
    "echo",
    "velvet",
    "summit",
    "cobalt",
    "willow",
)


def speech_seconds(text: str) -> float:
    """How long the simulated speech for ``text`` lasts."""
    return max(MIN_SECONDS, len(text) * SECONDS_PER_CHAR)


def synthesize(text: str, audio_format: str) -> bytes:
    """Audio bytes in ``audio_format`` whose length is proportional to ``text``."""
    seconds = speech_seconds(text)
    if audio_format == "mp3":
        return _id3_tag(text) + MP3_SILENT_FRAME * math.ceil(seconds / MP3_FRAME_SECONDS)
    samples = bytes(2 * int(seconds * WAV_RATE))
    if audio_format == "wav":
        return wav_bytes(samples, text)
    return _PLACEHOLDER_MAGIC.get(audio_format, b"") + samples


def wav_bytes(samples: bytes, text: str) -> bytes:
    """A RIFF/WAVE file of 16-bit mono ``samples`` with ``text`` in an INFO comment."""
    comment = text.encode() + b"\x00"
    if len(comment) % 2:
        comment += b"\x00"  # RIFF chunks are word aligned
    info = b"INFO" + _chunk(b"ICMT", comment)
    fmt = struct.pack("<HHIIHH", 1, 1, WAV_RATE, WAV_RATE * 2, 2, 16)
    body = b"WAVE" + _chunk(b"fmt ", fmt) + _chunk(b"LIST", info) + _chunk(b"data", samples)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _chunk(tag: bytes, payload: bytes) -> bytes:
    """One RIFF chunk."""
    return tag + struct.pack("<I", len(payload)) + payload


def _syncsafe(size: int) -> bytes:
    """An ID3v2.4 28-bit size, 7 bits per byte."""
    return bytes((size >> shift) & 0x7F for shift in (21, 14, 7, 0))


def _id3_tag(text: str) -> bytes:
    """An ID3v2.4 tag with one UTF-8 TXXX frame holding ``text``."""
    payload = b"\x03" + ID3_DESCRIPTION + b"\x00" + text.encode()
    frame = b"TXXX" + _syncsafe(len(payload)) + b"\x00\x00" + payload
    return b"ID3\x04\x00\x00" + _syncsafe(len(frame)) + frame


def transcribe(data: bytes) -> str:
    """The text embedded by ``synthesize``, else a deterministic sentence from the bytes."""
    embedded = _wav_comment(data) if data[:4] == b"RIFF" else None
    if embedded is None and data[:3] == b"ID3":
        embedded = _id3_text(data)
    if embedded is not None:
        return embedded
    digest = hashlib.sha256(data).digest()
    return "Simulated transcript: " + " ".join(_WORDS[b % len(_WORDS)] for b in digest[:8]) + "."


def audio_seconds(data: bytes) -> float:
    """The duration of audio made by ``synthesize`` (an estimate for other bytes)."""
    text = transcribe(data)
    return round(speech_seconds(text), 3) if data[:3] == b"ID3" or data[:4] == b"RIFF" else 1.0


def _wav_comment(data: bytes) -> str | None:
    """The ICMT text of a RIFF/WAVE file, if any."""
    offset = 12
    while offset + 8 <= len(data):
        tag, size = data[offset : offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        if tag == b"LIST" and data[offset + 8 : offset + 12] == b"INFO":
            inner, end = offset + 12, offset + 8 + size
            while inner + 8 <= end:
                sub, sub_size = (
                    data[inner : inner + 4],
                    struct.unpack_from("<I", data, inner + 4)[0],
                )
                if sub == b"ICMT":
                    return data[inner + 8 : inner + 8 + sub_size].rstrip(b"\x00").decode("utf-8", "replace")
                inner += 8 + sub_size + sub_size % 2
        offset += 8 + size + size % 2
    return None


def _id3_text(data: bytes) -> str | None:
    """The ``simulator-text`` TXXX value of an ID3v2.4 tag, if any."""
    end = 10 + _unsyncsafe(data[6:10])
    offset = 10
    while offset + 10 <= min(end, len(data)):
        frame_id, size = data[offset : offset + 4], _unsyncsafe(data[offset + 4 : offset + 8])
        payload = data[offset + 10 : offset + 10 + size]
        if frame_id == b"TXXX" and payload[1:].startswith(ID3_DESCRIPTION + b"\x00"):
            return payload[2 + len(ID3_DESCRIPTION) :].decode("utf-8", "replace")
        offset += 10 + size
    return None


def _unsyncsafe(raw: bytes) -> int:
    """Decode an ID3v2.4 syncsafe size."""
    return (raw[0] << 21) | (raw[1] << 14) | (raw[2] << 7) | raw[3] if len(raw) == 4 else 0
