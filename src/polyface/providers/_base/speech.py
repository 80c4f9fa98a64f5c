"""Speech stream handles shared by every provider that streams synthesised audio."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from polyface.providers._base.streams import AsyncStream, Stream
from polyface.types.speech import SpeechChunk, SpeechResponse


class SpeechStream(Stream[SpeechChunk]):
    """``for chunk in stream`` yields :class:`SpeechChunk` as audio arrives; the last (empty) chunk is
    ``final`` and carries usage and cost. ``stream.response()`` joins everything into a
    :class:`SpeechResponse`. ``break``, :meth:`close` or leaving a ``with`` block closes the connection."""

    def __init__(self, chunks: Iterator[SpeechChunk], *, provider: str, model: str, voice: str) -> None:
        super().__init__(chunks)
        self._provider, self._model, self._voice = provider, model, voice
        self.received: list[SpeechChunk] = []

    def _add(self, piece: SpeechChunk) -> SpeechChunk:
        self.received.append(piece)
        return piece

    def response(self) -> SpeechResponse:
        """Read the rest of the stream and return all of its audio as one raw :class:`SpeechResponse`."""
        self.until_done()
        return SpeechResponse.from_chunks(
            self.received, provider=self._provider, model=self._model, voice=self._voice
        )


class AsyncSpeechStream(AsyncStream[SpeechChunk]):
    """The async twin of :class:`SpeechStream`: ``async for chunk in stream``."""

    def __init__(self, chunks: AsyncIterator[SpeechChunk], *, provider: str, model: str, voice: str) -> None:
        super().__init__(chunks)
        self._provider, self._model, self._voice = provider, model, voice
        self.received: list[SpeechChunk] = []

    def _add(self, piece: SpeechChunk) -> SpeechChunk:
        self.received.append(piece)
        return piece

    async def response(self) -> SpeechResponse:
        await self.until_done()
        return SpeechResponse.from_chunks(
            self.received, provider=self._provider, model=self._model, voice=self._voice
        )


__all__ = ["AsyncSpeechStream", "SpeechStream"]
