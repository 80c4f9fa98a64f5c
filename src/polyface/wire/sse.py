"""Server-sent events: lines in, events out (the WHATWG event-stream format)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Event:
    data: str
    event: str = "message"
    id: str | None = None


class SSEDecoder:
    """Feed it lines (without line endings); it returns an event at each blank line."""

    __slots__ = ("_data", "_event", "_id")

    def __init__(self) -> None:
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None

    def feed(self, line: str) -> Event | None:
        if not line:
            if not self._data and not self._event:
                return None
            event = Event("\n".join(self._data), self._event or "message", self._id)
            self._data = []
            self._event = ""
            return event
        if line[0] == ":":
            return None
        name, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value
        return None

    def flush(self) -> Event | None:
        """The last event when the stream ended without a blank line."""
        return self.feed("") if self._data else None


def iter_events(lines: Iterable[str]) -> Iterator[Event]:
    decoder = SSEDecoder()
    for line in lines:
        event = decoder.feed(line.rstrip("\r\n"))
        if event is not None:
            yield event
    last = decoder.flush()
    if last is not None:
        yield last


class DataFeed:
    """The ``data`` of each event until ``[DONE]``; then the rest of the lines is read (so an HTTP
    connection goes back to its pool) and ``done`` is True. A stream that ends without ``[DONE]``
    leaves ``done`` False."""

    def __init__(self, lines: Iterable[str] | AsyncIterable[str]) -> None:
        self._lines = lines
        self.done = False

    def __iter__(self) -> Iterator[str]:
        assert isinstance(self._lines, Iterable)
        lines = iter(self._lines)
        for event in iter_events(lines):
            if event.data == "[DONE]":
                self.done = True
                for _ in lines:
                    pass
                return
            yield event.data

    async def __aiter__(self) -> AsyncIterator[str]:
        assert isinstance(self._lines, AsyncIterable)
        lines = aiter(self._lines)
        async for event in aiter_events(lines):
            if event.data == "[DONE]":
                self.done = True
                async for _ in lines:
                    pass
                return
            yield event.data


async def aiter_events(lines: AsyncIterable[str]) -> AsyncIterator[Event]:
    decoder = SSEDecoder()
    async for line in lines:
        event = decoder.feed(line.rstrip("\r\n"))
        if event is not None:
            yield event
    last = decoder.flush()
    if last is not None:
        yield last
