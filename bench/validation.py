"""Measure the edge validation of request bodies (``gateway.validation``) on this machine.

Standalone, no services: times decoding and checking typical bodies of each endpoint (JSON bytes
→ msgspec decode → struct conversion, exactly what a view does) one by one with
``time.perf_counter_ns``, prints p50/p99 per body and a PASS/FAIL line against the target (a
small share of the hot path's ~1 ms CPU per request), and writes ``bench/results/validation.json``.

    python bench/validation.py [--calls 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_P50_MS = 0.05

_MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is the capital of France? Answer in one word."},
    {"role": "assistant", "content": "Paris."},
    {"role": "user", "content": [{"type": "text", "text": "And of Italy?"}]},
]
_PARAMETERS = {"type": "object", "properties": {"q": {"type": "string"}}}
_TOOL = {
    "type": "function",
    "function": {"name": "lookup", "description": "Look a city up.", "parameters": _PARAMETERS},
}
BODIES = {
    "chat (4 messages, a tool, sampling fields)": (
        "chat_request",
        {
            "model": "openai",
            "messages": _MESSAGES,
            "temperature": 0.7,
            "top_p": 0.9,
            "max_tokens": 256,
            "stream": True,
            "stream_options": {"include_usage": True},
            "tools": [_TOOL],
            "seed": 42,
        },
    ),
    "chat (one 64 KB message)": ("chat_request", {"messages": [{"role": "user", "content": "x" * 65_536}]}),
    "image": ("image_request", {"prompt": "a lighthouse at dusk", "size": "512x512", "seed": 7}),
    "speech": ("speech_request", {"input": "Hello from the gateway.", "voice": "nova", "response_format": "mp3"}),
    "chat refused (temperature 'hot')": ("chat_request", {"messages": _MESSAGES, "temperature": "hot"}),
}


def _setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcp_site.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def _measure(check: str, body: bytes, calls: int) -> list[int]:
    from core.errors import HttpError
    from gateway import validation

    validate = getattr(validation, check)
    clock = time.perf_counter_ns
    timings = []
    for _ in range(calls):
        started = clock()
        try:
            payload = validation.decode_json(body)
            validate(payload)
        except HttpError:
            pass
        timings.append(clock() - started)
    timings.sort()
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    _setup_django()
    rows = []
    for name, (check, payload) in BODIES.items():
        body = json.dumps(payload).encode()
        timings = _measure(check, body, args.calls)
        p50, p99 = timings[len(timings) // 2] / 1e6, timings[int(len(timings) * 0.99)] / 1e6
        rows.append({"body": name, "bytes": len(body), "p50_ms": round(p50, 5), "p99_ms": round(p99, 5)})
        print(f"validate {name:<44} {len(body):>6} B: p50 {p50 * 1000:6.1f} µs, p99 {p99 * 1000:6.1f} µs")
    typical = rows[0]["p50_ms"]
    passed = typical < TARGET_P50_MS
    print(
        f"{'PASS' if passed else 'FAIL'}: a typical chat body validates in p50 {typical:.4f} ms "
        f"{'<' if passed else '>='} {TARGET_P50_MS} ms"
    )
    result = {
        "benchmark": "gateway.validation (decode + check, per request)",
        "calls": args.calls,
        "rows": rows,
        "target_p50_ms": TARGET_P50_MS,
        "pass": passed,
        "python": platform.python_version(),
    }
    out = ROOT / "bench" / "results" / "validation.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
