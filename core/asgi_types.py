"""The types of ASGI's scope, messages and callables, as the project's handlers and middleware use them.

Plain dictionaries rather than asgiref's per-event ``TypedDict`` unions: the handlers read a few keys
and pass the rest along untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

__all__ = ["ASGIApp", "Message", "Receive", "Scope", "Send"]

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
#: Accepts any mapping, as Django's own handler declares it.
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
