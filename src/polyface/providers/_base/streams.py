"""Stream handles: iterate deltas, stop early safely, read the totals at the end."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import TracebackType

from polyface.types.text import FinishReason, TextDelta
from polyface.types.usage import Usage


class _Totals:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.usage: Usage | None = None
        self.cost: float | None = None
        self.finish_reason: FinishReason | None = None
        self.done = False

    def add(self, delta: TextDelta) -> TextDelta:
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


class TextStream(_Totals):
    """``for delta in stream`` yields :class:`TextDelta`; ``stream.text``, ``.usage``, ``.cost`` add up.

    ``break`` out of the loop, call :meth:`close`, or leave a ``with`` block to stop
    early: the connection is closed right away.
    """

    def __init__(self, deltas: Iterator[TextDelta]) -> None:
        super().__init__()
        self._deltas = deltas

    def __iter__(self) -> Iterator[TextDelta]:
        try:
            for delta in self._deltas:
                yield self.add(delta)
            self.done = True
        finally:
            self.close()

    def close(self) -> None:
        close = getattr(self._deltas, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> TextStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def until_done(self) -> TextStream:
        """Read the whole stream; return self (handy: ``stream.until_done().text``)."""
        for _ in self:
            pass
        return self


class AsyncTextStream(_Totals):
    """The async twin of :class:`TextStream`: ``async for delta in stream``."""

    def __init__(self, deltas: AsyncIterator[TextDelta]) -> None:
        super().__init__()
        self._deltas = deltas

    async def __aiter__(self) -> AsyncIterator[TextDelta]:
        try:
            async for delta in self._deltas:
                yield self.add(delta)
            self.done = True
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        aclose = getattr(self._deltas, "aclose", None)
        if aclose is not None:
            await aclose()

    async def __aenter__(self) -> AsyncTextStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def until_done(self) -> AsyncTextStream:
        async for _ in self:
            pass
        return self
