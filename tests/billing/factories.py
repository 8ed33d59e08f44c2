"""Ledger events as the gateway records them, for tests of what is built on the ledger (invoices, pages)."""

from __future__ import annotations

import itertools
import time
from typing import Any

_request_ids = itertools.count(1)


def usage_event_for_tests(*, organization_id: int, **fields: Any) -> dict[str, Any]:
    """One event of ``usage_events_insert``: a successful text chat, now, unless ``fields`` say otherwise."""
    return {
        "request_id": f"test-{next(_request_ids)}",
        "client_request_id": "",
        "created_at": time.time(),
        "organization_id": organization_id,
        "key_id": None,
        "user_id": None,
        "provider": "pollinations-text",
        "model": "openai",
        "operation": "chat",
        "modality": "text",
        "input_tokens": 10,
        "output_tokens": 20,
        "images": 0,
        "audio_seconds": 0.0,
        "characters": 0,
        "usage_source": "upstream",
        "cost": 1_000_000,
        "status": 200,
        "latency_ms": 120,
        "cache_hit": False,
        **fields,
    }
