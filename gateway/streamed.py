"""A streamed answer that the hot-path handler closes itself, however the exchange ends.

Django wraps a streaming body in generators of its own, and closing those does not close the body:
a body left open would be finalised by the garbage collector, on another task, and only then close
its upstream answer and settle the call. So the handler reads :attr:`StreamedAnswer.body` directly
and always closes it — after the last chunk, when the client leaves, and also when the body was
never read (the client gone before the answer started): a call is settled exactly when its
exchange ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from types import TracebackType
from typing import Any

from django.http import StreamingHttpResponse


class OwnedBody:
    """An answer's body that owns what must end with it (``owner``: the call's billing, when billed).

    Reading it to its end, an error while reading it, or :meth:`aclose` closes the body and then
    ``owner``, once. Closed before its end, ``owner`` hears ``GeneratorExit``, as a generator's
    ``finally`` would: the client did not take the rest.
    """

    __slots__ = ("_body", "_closed", "_owner", "_reading")

    def __init__(self, body: AsyncGenerator[bytes, None], owner: contextlib.AsyncExitStack | None = None) -> None:
        self._body = body
        self._owner = owner
        self._closed = False
        self._reading = False

    def __aiter__(self) -> OwnedBody:
        return self

    async def __anext__(self) -> bytes:
        self._reading = True
        try:
            return await self._body.__anext__()
        except StopAsyncIteration:
            await self._close(None)
            raise
        except BaseException as exc:
            await self._close(exc)
            raise
        finally:
            self._reading = False

    async def aclose(self) -> None:
        """End the answer here (nothing more is read): the body, then ``owner``; a no-op once ended.

        Also a no-op while another task is inside a read: that read is the one to end it (the
        handler cancels the task reading before it closes the body).
        """
        if not self._closed and not self._reading:
            await self._close(GeneratorExit())

    async def _close(self, exc: BaseException | None) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._body.aclose()
        finally:
            if self._owner is not None:
                tb: TracebackType | None = exc.__traceback__ if exc is not None else None
                await self._owner.__aexit__(type(exc) if exc is not None else None, exc, tb)


class StreamedAnswer(StreamingHttpResponse):
    """A streaming response whose :attr:`body` the hot-path handler reads and closes itself."""

    def __init__(
        self, body: AsyncGenerator[bytes, None], *, owner: contextlib.AsyncExitStack | None = None, **kwargs: Any
    ) -> None:
        self.body = OwnedBody(body, owner)
        super().__init__(self.body, **kwargs)
