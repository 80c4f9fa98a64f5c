"""Stream handles: iterate pieces, stop early safely, read the totals at the end.

``Stream[T]`` / ``AsyncStream[T]`` hold the iterate / close / context-manager logic once;
``TextStream`` and the speech streams add what they total up. Leaving a ``for`` loop
early (``break``), calling ``close()`` or leaving a ``with`` block closes the connection
at once. For async streams use ``async with`` to close at once (an abandoned async
generator is only closed when the event loop gets to finalise it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Generic, Self, TypeVar

from polyface.types.text import FinishReason, TextDelta
from polyface.types.usage import Usage

T = TypeVar("T")


class Stream(Generic[T]):
    """Iterate pieces of type ``T``; subclasses total them up in :meth:`_add`."""

    def __init__(self, pieces: Iterator[T]) -> None:
        self._pieces = pieces
        self.done = False

    def _add(self, piece: T) -> T:
        return piece

    def __iter__(self) -> Iterator[T]:
        try:
            for piece in self._pieces:
                yield self._add(piece)
            self.done = True
        finally:
            self.close()

    def close(self) -> None:
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def until_done(self) -> Self:
        """Read the whole stream; return self (``stream.until_done().text``)."""
        for _ in self:
            pass
        return self


class AsyncStream(Generic[T]):
    """The async twin of :class:`Stream`: ``async for piece in stream``."""

    def __init__(self, pieces: AsyncIterator[T]) -> None:
        self._pieces = pieces
        self.done = False

    def _add(self, piece: T) -> T:
        return piece

    async def __aiter__(self) -> AsyncIterator[T]:
        try:
            async for piece in self._pieces:
                yield self._add(piece)
            self.done = True
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        aclose = getattr(self._pieces, "aclose", None)
        if aclose is not None:
            await aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def until_done(self) -> Self:
        async for _ in self:
            pass
        return self


class _TextTotals:
    def _reset_totals(self) -> None:
        self.parts: list[str] = []
        self.usage: Usage | None = None
        self.cost: float | None = None
        self.finish_reason: FinishReason | None = None

    def _add(self, delta: TextDelta) -> TextDelta:
        if delta.text:
            self.parts.append(delta.text)
        if delta.usage is not None:
            self.usage = delta.usage
            self.cost = delta.cost
        if delta.finish_reason is not None:
            self.finish_reason = delta.finish_reason
        return delta

    @property
    def text(self) -> str:
        """The text received so far."""
        return "".join(self.parts)


class TextStream(_TextTotals, Stream[TextDelta]):
    """``for delta in stream`` yields :class:`TextDelta`; ``stream.text``, ``.usage``, ``.cost`` add up."""

    def __init__(self, deltas: Iterator[TextDelta]) -> None:
        Stream.__init__(self, deltas)
        self._reset_totals()


class AsyncTextStream(_TextTotals, AsyncStream[TextDelta]):
    """The async twin of :class:`TextStream`: ``async for delta in stream``."""

    def __init__(self, deltas: AsyncIterator[TextDelta]) -> None:
        AsyncStream.__init__(self, deltas)
        self._reset_totals()
