"""Contract tests for speech synthesis, transcription and chat audio."""

import base64
import io
import wave

import pytest

from tests.simulator.helpers import unique

pytestmark = pytest.mark.timeout(30)

MP3_HEADER = b"\xff\xfb\x10\xc4"
MP3_FRAME_BYTES = 104


def _mp3_frames(data: bytes) -> int:
    """Count MPEG-1 Layer III frames after the ID3v2 tag, checking each frame header."""
    assert data[:3] == b"ID3"
    size = data[6:10]
    offset = 10 + ((size[0] << 21) | (size[1] << 14) | (size[2] << 7) | size[3])
    frames = 0
    while offset < len(data):
        header = data[offset : offset + 4]
        assert header[0] == 0xFF, "frame sync"
        assert header[1] & 0xE0 == 0xE0, "frame sync"
        assert (header[1] >> 3) & 0b11 == 0b11, "MPEG-1"
        assert (header[1] >> 1) & 0b11 == 0b01, "Layer III"
        assert header == MP3_HEADER
        offset += MP3_FRAME_BYTES
        frames += 1
    assert offset == len(data)
    return frames


def _speech(client, text, **extra):
    return client.post("/v1/audio/speech", json={"input": text, **extra})


def test_speech_defaults_to_decodable_mpeg_audio(gen):
    response = _speech(gen, "hello world")
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/mpeg"
    assert _mp3_frames(response.content) > 0


def test_speech_length_is_proportional_to_the_input(gen):
    short = _mp3_frames(_speech(gen, "a" * 100).content)
    long = _mp3_frames(_speech(gen, "a" * 400).content)
    assert 3.5 < long / short < 4.5


def test_speech_wav_is_a_riff_wave_file(gen):
    response = _speech(gen, "x" * 200, response_format="wav")
    assert response.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(response.content)) as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, 8000)
        assert audio.getnframes() == 200 * 0.05 * 8000


def test_speech_rejects_an_unknown_voice(gen):
    response = _speech(gen, "hi", voice="robot")
    assert response.status_code == 400
    assert "voice" in response.json()["error"]["details"]["fieldErrors"]


def test_speech_rejects_an_unknown_format(gen):
    assert "response_format" in _speech(gen, "hi", response_format="ogg").json()["error"]["details"]["fieldErrors"]


@pytest.mark.parametrize("text", ["", "a" * 10_001])
def test_speech_input_must_be_1_to_10000_characters(gen, text):
    response = _speech(gen, text)
    assert response.status_code == 400
    assert "input" in response.json()["error"]["details"]["fieldErrors"]


def test_speech_accepts_elevenlabs_voices(gen):
    assert _speech(gen, "hi", voice="rachel").status_code == 200


def test_audio_get_returns_mpeg_audio(gen):
    response = gen.get("/audio/hello%20there", params={"voice": "nova"})
    assert response.headers["content-type"] == "audio/mpeg"
    assert _mp3_frames(response.content) > 0


def _transcribe(client, data, filename="speech.wav", **fields):
    return client.post("/v1/audio/transcriptions", files={"file": (filename, data)}, data=fields)


def test_transcription_of_simulator_speech_returns_the_original_text(gen):
    text = unique("round trip")
    audio = _speech(gen, text, response_format="wav").content
    response = _transcribe(gen, audio)
    assert response.status_code == 200
    assert response.json() == {"text": text}


def test_transcription_of_simulator_mp3_returns_the_original_text(gen):
    text = unique("mp3 trip")
    assert _transcribe(gen, _speech(gen, text).content, "a.mp3").json()["text"] == text


def test_transcription_of_other_audio_is_deterministic(gen):
    first = _transcribe(gen, b"RIFF-not-really-audio").json()["text"]
    assert first == _transcribe(gen, b"RIFF-not-really-audio").json()["text"]
    assert first.startswith("Simulated transcript:")


def test_transcription_text_format_is_plain(gen):
    response = _transcribe(gen, _speech(gen, "plain words", response_format="wav").content, response_format="text")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "plain words"


def test_transcription_srt_format_has_one_cue(gen):
    audio = _speech(gen, "subtitle me", response_format="wav").content
    assert _transcribe(gen, audio, response_format="srt").text.startswith("1\n00:00:00,000 --> ")


def test_transcription_vtt_format_has_a_header(gen):
    audio = _speech(gen, "subtitle me", response_format="wav").content
    assert _transcribe(gen, audio, response_format="vtt").text.startswith("WEBVTT\n\n00:00:00.000 --> ")


def test_transcription_verbose_json_has_segments(gen):
    audio = _speech(gen, "verbose please", response_format="wav").content
    data = _transcribe(gen, audio, response_format="verbose_json").json()
    assert data["text"] == "verbose please"
    assert data["segments"][0]["text"] == "verbose please"
    assert data["duration"] > 0


def test_transcription_requires_a_file(gen):
    response = gen.post("/v1/audio/transcriptions", files={"model": (None, "whisper-1")})
    assert response.status_code == 400
    assert "file" in response.json()["error"]["details"]["fieldErrors"]


def test_transcription_rejects_unsupported_file_types(gen):
    assert _transcribe(gen, b"data", "notes.txt").status_code == 400


def test_transcription_rejects_files_over_25_mb(gen):
    response = _transcribe(gen, bytes(25 * 1024 * 1024 + 1))
    assert response.status_code == 400
    assert "25 MB" in response.json()["error"]["details"]["fieldErrors"]["file"][0]


def test_chat_with_audio_modality_returns_base64_audio(gen):
    body = {
        "model": "openai-audio",
        "modalities": ["text", "audio"],
        "audio": {"voice": "alloy", "format": "wav"},
        "messages": [{"role": "user", "content": "speak"}],
    }
    audio = gen.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["audio"]
    with wave.open(io.BytesIO(base64.b64decode(audio["data"]))) as decoded:
        assert decoded.getnframes() > 0
    assert audio["transcript"].startswith("You said: speak.")


def test_chat_transcribes_input_audio_parts(gen):
    audio = _speech(gen, "spoken question", response_format="wav").content
    part = {
        "type": "input_audio",
        "input_audio": {"data": base64.b64encode(audio).decode(), "format": "wav"},
    }
    body = {"model": "openai-audio", "messages": [{"role": "user", "content": [part]}]}
    assert gen.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"] == "spoken question"


def test_chat_refuses_input_audio_other_than_wav_or_mp3(gen):
    part = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "flac"}}
    body = {"model": "openai-audio", "messages": [{"role": "user", "content": [part]}]}
    assert gen.post("/v1/chat/completions", json=body).status_code == 400


def test_legacy_text_get_with_audio_model_returns_mpeg(anon):
    response = anon.get("/legacy/text/say%20hi", params={"model": "openai-audio", "voice": "nova", "token": "t"})
    assert response.headers["content-type"] == "audio/mpeg"
    assert _mp3_frames(response.content) > 0
