"""What a job's parameters mean to the pages: the prompt and seed a result card shows, and the
playground form values that run the same request again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobs.models import Job
from jobs.types import KIND_OPERATION, JobKind

#: The playground's own starting values, per operation (a "Run again" overrides what the job set).
PLAYGROUND_DEFAULTS: dict[str, dict[str, Any]] = {
    "chat": {"model": "", "system": "", "prompt": "", "temperature": 1, "max_tokens": 512},
    "image": {"model": "", "prompt": "", "size": "1024x1024", "seed": ""},
    "speech": {"model": "", "input": "", "voice": "alloy"},
    "transcription": {"model": ""},
}
#: The fields of each operation a job's request may fill in (the rest of a request is not in the form).
_REQUEST_FIELDS = {
    "chat": ("temperature", "max_tokens"),
    "image": ("prompt", "size", "seed"),
    "speech": ("input", "voice"),
    "transcription": (),
}


def _text(content: Any) -> str:
    """A message's words, whether its content is a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict)).strip()
    return ""


def _message(params: dict[str, Any], role: str, *, last: bool) -> str:
    messages = [m for m in params.get("messages") or [] if isinstance(m, dict) and m.get("role") == role]
    if not messages:
        return ""
    return _text((messages[-1] if last else messages[0]).get("content"))


def job_prompt(job: Job) -> str:
    """What the job was asked: the image prompt, the last user message, the text to say."""
    params = job.params or {}
    if job.kind == JobKind.TEXT:
        return _message(params, "user", last=True)
    if job.kind == JobKind.SPEECH:
        return str(params.get("input") or "")
    return str(params.get("prompt") or "")


def playground_values(job: Job) -> tuple[str, dict[str, Any]]:
    """The playground operation that runs ``job``'s request again, and its form values (an upload is never kept)."""
    operation = KIND_OPERATION[job.kind]
    params = job.params or {}
    values = {**PLAYGROUND_DEFAULTS[operation], "model": job.model}
    values.update({name: params[name] for name in _REQUEST_FIELDS[operation] if params.get(name) is not None})
    if operation == "chat":
        values.update(system=_message(params, "system", last=False), prompt=_message(params, "user", last=True))
    return operation, values


@dataclass(frozen=True)
class ResultCard:
    """One result of the gallery."""

    job: Job
    prompt: str
    seed: int | None
    #: The words of a text or transcription result (cut short), else empty.
    text: str = ""

    @property
    def shows_as(self) -> str:
        """How the page shows it: ``image``, ``audio``, ``text`` or only a ``file`` to download."""
        content_type = self.job.result_content_type
        if content_type.startswith("image/"):
            return "image"
        if content_type.startswith("audio/"):
            return "audio"
        return "text" if self.text else "file"


def result_card(job: Job, *, text: str = "") -> ResultCard:
    seed = (job.params or {}).get("seed")
    return ResultCard(job=job, prompt=job_prompt(job), seed=seed if isinstance(seed, int) else None, text=text)
