"""The management API's JSON parser: the gateway's strict decoding, so ``/api`` refuses what ``/v1`` refuses.

Bad UTF-8, lone surrogates and nesting too deep are a 400 in the error shape (the standard
library's parser would raise ``RecursionError`` — a 500 — or store unencodable strings).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import parsers

from gateway.validation import decode_json


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        # decode_json's refusal keeps its code (invalid_json, invalid_unicode), as on /v1; the API's
        # exception handler answers it in the error shape.
        return decode_json(stream.read() if stream is not None else b"")
