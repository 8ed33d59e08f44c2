"""The management API's JSON parser: the gateway's strict decoding, so ``/api`` refuses what ``/v1`` refuses.

Bad UTF-8, lone surrogates and nesting too deep are a 400 in the error shape (the standard
library's parser would raise ``RecursionError`` — a 500 — or store unencodable strings).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from core.errors import HttpError
from gateway.validation import decode_json


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        body = stream.read() if stream is not None else b""
        try:
            return decode_json(body)
        except HttpError as exc:
            raise ParseError(exc.message) from None
