"""The echo plugin: its hooks. The gateway finds this module through the ``mcp_gateway.plugins`` entry point.

It brings one provider class (:class:`EchoProvider`), refuses prompts containing a word chosen by
the operator (``MCP_ECHO_REFUSE_WORD``), and counts answers per provider and status.
"""

from __future__ import annotations

import os
from collections import Counter

from mcp_gateway_echo.provider import EchoProvider
from plugins import Caller, Outcome, Provider, ProviderCall, hookimpl

__all__ = ["ANSWERS", "EchoProvider", "mcp_provider_classes", "mcp_request", "mcp_response"]

#: (provider, status) → answers seen, filled by ``mcp_response``. A real plugin would export metrics.
ANSWERS: Counter[tuple[str, int]] = Counter()


@hookimpl
def mcp_provider_classes() -> list[type[Provider]]:
    return [EchoProvider]


@hookimpl
def mcp_request(call: ProviderCall, caller: Caller) -> str | None:
    # Read per call, not at import, so an operator's change needs no reinstall (a restart suffices).
    word = os.environ.get("MCP_ECHO_REFUSE_WORD", "").strip().lower()
    if not word or call.payload is None:
        return None
    for message in call.payload.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str) and word in content.lower():
            return f"Prompts mentioning {word!r} are not accepted here."
    # None lets the request through; the gateway asks the next plugin.
    return None


@hookimpl
def mcp_response(call: ProviderCall, caller: Caller, outcome: Outcome) -> None:
    ANSWERS[(outcome.provider, outcome.status)] += 1
