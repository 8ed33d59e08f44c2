"""The simulated language model: a deterministic completion for a ChatRequest.

Content is derived from a hash of (model, seed, messages): an echo of the last user message
(its first ``ECHO_WORDS`` words) plus a few hash-picked words. Tokens are counted by splitting
on whitespace: prompt tokens are the words of every text part plus one per message;
completion tokens are the words of the content (or of the tool call's name and arguments).
A tool is called when ``tools`` are offered, the last message is the user's, and its text
contains ``TOOL_TRIGGER`` (calls the first tool) or a tool's function name (calls that one);
``tool_choice`` ``required``/named forces a call and ``none`` prevents it.
"""

import base64
import binascii
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from simulator import audio
from simulator.chat_request import ChatRequest
from simulator.errors import SimError
from simulator.response import dumps

TOOL_TRIGGER = "call tool"
ECHO_WORDS = 12
STT_FORMATS = ("wav", "mp3")
_VOCAB = (
    "the",
    "simulated",
    "answer",
    "is",
    "ready",
    "and",
    "deterministic",
    "for",
    "this",
    "prompt",
    "with",
    "a",
    "calm",
    "clear",
    "tone",
    "today",
    "bright",
    "models",
    "reply",
    "quickly",
    "gateway",
    "tests",
    "stream",
    "tokens",
    "every",
    "seed",
    "gives",
    "same",
    "words",
    "again",
    "here",
    "now",
)
_PLACEHOLDERS = {
    "string": "simulated",
    "integer": 1,
    "number": 1.5,
    "boolean": True,
    "array": [],
    "object": {},
}


@dataclass(slots=True)
class Completion:
    """One generated answer plus the identity fields both JSON and SSE shapes need."""

    id: str
    created: int
    model: str
    content: str | None
    tool_calls: list[dict[str, Any]] | None
    audio: dict[str, Any] | None
    prompt_tokens: int
    completion_tokens: int
    user_tier: str | None = None

    @property
    def finish_reason(self) -> str:
        """``tool_calls`` when a tool was called, else ``stop``."""
        return "tool_calls" if self.tool_calls else "stop"

    def usage(self) -> dict[str, Any]:
        """The OpenAI ``usage`` object."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        }

    def message(self) -> dict[str, Any]:
        """The assistant message."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        if self.audio:
            message["audio"] = self.audio
        return message

    def body(self) -> bytes:
        """The serialised ``chat.completion`` object."""
        data: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_simulator",
            "choices": [
                {
                    "index": 0,
                    "message": self.message(),
                    "logprobs": None,
                    "finish_reason": self.finish_reason,
                }
            ],
            "usage": self.usage(),
        }
        if self.user_tier is not None:
            data["user_tier"] = self.user_tier
        return dumps(data)


def complete(chat: ChatRequest, *, legacy: bool = False, user_tier: str | None = None) -> Completion:
    """Generate the deterministic completion for ``chat``."""
    digest = hashlib.sha256(dumps([chat.model, chat.seed, chat.messages])).digest()
    last = chat.messages[-1] if chat.messages else {}
    text, images, transcripts = read_parts(last.get("content"))
    tool_calls = _tool_calls(chat, text, digest) if last.get("role") == "user" else None
    content: str | None = None
    if tool_calls:
        completion_tokens = sum(
            len(f"{c['function']['name']} {c['function']['arguments']}".split()) for c in tool_calls
        )
    else:
        content = " ".join(transcripts) if transcripts else _compose(text, images, digest)
        if chat.json_mode:
            content = json.dumps({"response": content, "model": chat.model, "seed": chat.seed})
        completion_tokens = len(content.split())
    prompt_tokens = sum(len(read_parts(m.get("content"))[0].split()) + 1 for m in chat.messages)
    spoken = None
    if chat.audio_format and content is not None:
        data = audio.synthesize(content, "pcm" if chat.audio_format == "pcm16" else chat.audio_format)
        spoken = {
            "id": "audio_" + digest.hex()[:24],
            "data": base64.b64encode(data).decode(),
            "transcript": content,
            "expires_at": int(time.time()) + 3600,
        }
        content = None
    ident = ("pllns_" + digest.hex()[:32]) if legacy else ("chatcmpl-" + digest.hex()[:29])
    created = int(time.time() * 1000) if legacy else int(time.time())  # legacy: milliseconds
    return Completion(
        ident,
        created,
        chat.model,
        content,
        tool_calls,
        spoken,
        prompt_tokens,
        completion_tokens,
        user_tier,
    )


def read_parts(content: Any) -> tuple[str, int, list[str]]:
    """Text, image count and audio transcripts of a message ``content`` (string or parts)."""
    if isinstance(content, str):
        return content, 0, []
    if not isinstance(content, list):
        return "", 0, []
    texts: list[str] = []
    images = 0
    transcripts: list[str] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            texts.append(str(part.get("text", "")))
        elif kind == "image_url":
            images += 1
        elif kind == "input_audio":
            transcripts.append(_transcribe_part(part.get("input_audio") or {}))
    return " ".join(texts), images, transcripts


def _transcribe_part(spec: dict[str, Any]) -> str:
    """Transcribe one ``input_audio`` part; only wav and mp3 are accepted."""
    if spec.get("format") not in STT_FORMATS:
        raise SimError(400, f"input_audio format must be one of {', '.join(STT_FORMATS)}")
    try:
        data = base64.b64decode(spec.get("data") or "", validate=True)
    except (binascii.Error, TypeError):
        raise SimError(400, "input_audio data must be base64") from None
    return audio.transcribe(data)


def _compose(text: str, images: int, digest: bytes) -> str:
    """Echo the start of the user's text, then a few words picked by the hash."""
    words = " ".join(_VOCAB[b % len(_VOCAB)] for b in digest[: 6 + digest[0] % 10])
    reply = words[0].upper() + words[1:] + "."
    echo = " ".join(text.split()[:ECHO_WORDS])
    if echo:
        reply = f"You said: {echo}. {reply}"
    if images:
        reply += f" I see {images} image(s)."
    return reply


def _tool_calls(chat: ChatRequest, text: str, digest: bytes) -> list[dict[str, Any]] | None:
    """The tool call the trigger rules select, if any."""
    functions = [t["function"] for t in chat.tools if isinstance(t, dict) and isinstance(t.get("function"), dict)]
    if not functions or chat.tool_choice == "none":
        return None
    lowered = text.lower()
    chosen = next((f for f in functions if f.get("name") and f["name"].lower() in lowered), None)
    forced = chat.tool_choice.get("function", {}).get("name") if isinstance(chat.tool_choice, dict) else None
    if forced:
        chosen = next((f for f in functions if f.get("name") == forced), functions[0])
    elif chosen is None and (TOOL_TRIGGER in lowered or chat.tool_choice == "required"):
        chosen = functions[0]
    if chosen is None:
        return None
    properties = (chosen.get("parameters") or {}).get("properties") or {}
    arguments = {
        name: (schema.get("enum") or [_PLACEHOLDERS.get(schema.get("type", ""), "simulated")])[0]
        for name, schema in properties.items()
        if isinstance(schema, dict)
    }
    call = {"name": chosen.get("name", "tool"), "arguments": json.dumps(arguments)}
    return [{"id": "call_" + digest.hex()[:24], "type": "function", "function": call}]
