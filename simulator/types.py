"""Shared type aliases for the simulator's raw ASGI plumbing."""

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

# Host profiles, selected by path prefix (see README.md).
GEN = "gen"
LEGACY_IMAGE = "legacy-image"
LEGACY_TEXT = "legacy-text"
SIM = "sim"

# How sending a response ended, as recorded in the request log.
COMPLETED = "completed"
CANCELLED = "cancelled"  # the client disconnected first
DROPPED = "dropped"  # a drop fault cut the body short
