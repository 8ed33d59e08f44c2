"""A small ``multipart/form-data`` parser built on the standard library's email parser."""

from dataclasses import dataclass
from email import policy
from email.parser import BytesParser

from simulator.errors import SimError


@dataclass(frozen=True, slots=True)
class Part:
    """One form field or uploaded file."""

    name: str
    filename: str | None
    content_type: str
    data: bytes

    def text(self) -> str:
        """The part decoded as UTF-8 (form fields)."""
        return self.data.decode("utf-8", "replace")


def parse_multipart(content_type: str, body: bytes) -> dict[str, list[Part]]:
    """Parse a form body into parts grouped by field name; a 400 when it is not multipart."""
    if "boundary=" not in content_type:
        raise SimError(400, "Expected multipart/form-data with a boundary")
    # The email parser wants a MIME document: prepend the Content-Type header to the body.
    document = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    message = BytesParser(policy=policy.HTTP).parsebytes(document)
    if not message.is_multipart():
        raise SimError(400, "Malformed multipart body")
    parts: dict[str, list[Part]] = {}
    for item in message.iter_parts():
        name = item.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = item.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        part = Part(str(name), item.get_filename(), item.get_content_type(), data)
        parts.setdefault(part.name, []).append(part)
    return parts
