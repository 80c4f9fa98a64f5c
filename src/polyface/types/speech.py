"""Speech synthesis: text in, audio out (whole, or streamed as chunks)."""

from __future__ import annotations

import builtins
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from polyface.types._base import PolyfaceModel
from polyface.types.usage import Usage

AudioFormat = Literal["wav", "mp3", "opus", "aac", "flac", "ogg", "webm", "pcm", "raw"]
"""A container or codec. ``pcm`` and ``raw`` are headerless samples: read ``encoding`` and ``sample_rate``."""

PcmEncoding = Literal["pcm_s16le", "pcm_f32le", "pcm_mulaw", "pcm_alaw"]
"""How headerless samples are stored (Together's ``response_encoding`` values)."""

_BYTES_PER_SAMPLE: dict[str, int] = {"pcm_s16le": 2, "pcm_f32le": 4, "pcm_mulaw": 1, "pcm_alaw": 1}

_MIME_TYPES: dict[str, str] = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "webm": "audio/webm",
    "pcm": "audio/L16",
    "raw": "application/octet-stream",
}


def _wav_header(data: builtins.bytes) -> tuple[int, int, float] | None:
    """(sample_rate, channels, duration_seconds) read from a RIFF/WAVE header, or None if unreadable."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos, rate, channels, byte_rate = 12, 0, 0, 0
    while pos + 8 <= len(data):
        chunk_id, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if chunk_id == b"fmt " and body + 12 <= len(data):
            _fmt, channels, rate, byte_rate = struct.unpack_from("<HHII", data, body)
        elif chunk_id == b"data":
            if not byte_rate:
                return None
            # Streamed WAVs often carry a placeholder size (0 or 0xFFFFFFFF): trust the bytes we hold.
            available = len(data) - body
            length = size if 0 < size <= available else available
            return rate, channels, length / byte_rate
        pos = body + size + (size & 1)
    return None


class SpeechResponse(PolyfaceModel):
    """Synthesised audio. ``audio`` holds the file's bytes exactly as the provider sent them."""

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    provider: str
    model: str
    audio: builtins.bytes = Field(repr=False)
    format: AudioFormat = "wav"
    sample_rate: int | None = None
    """Hz. Read from the header for WAV when not given; needed to play ``pcm``/``raw``."""
    encoding: PcmEncoding | None = None
    """Sample encoding of ``pcm``/``raw`` audio; OpenAI's ``pcm`` is ``pcm_s16le`` at 24 kHz."""
    channels: int = 1
    voice: str | None = None
    duration_seconds: float | None = None
    """Computed from the data for WAV and for PCM with a known rate and encoding; else as reported."""
    usage: Usage = Field(default_factory=Usage)
    cost: float | None = None
    """USD, from the provider's catalog pricing; None when the catalog has no price for the model."""

    @model_validator(mode="after")
    def _measure(self) -> SpeechResponse:
        if self.format == "wav":
            header = _wav_header(self.audio)
            if header is not None:
                rate, channels, duration = header
                self.sample_rate = self.sample_rate or rate
                self.channels = channels or self.channels
                if self.duration_seconds is None:
                    self.duration_seconds = duration
        elif self.format in ("pcm", "raw") and self.duration_seconds is None:
            encoding = self.encoding or ("pcm_s16le" if self.format == "pcm" else None)
            if encoding is not None and self.sample_rate:
                frame = _BYTES_PER_SAMPLE[encoding] * self.channels
                self.duration_seconds = len(self.audio) / (frame * self.sample_rate)
        return self

    @classmethod
    def from_chunks(
        cls, chunks: Iterable[SpeechChunk], *, provider: str, model: str, **fields: Any
    ) -> SpeechResponse:
        """Join streamed chunks into one response (format, rate, usage and cost from the chunks)."""
        parts: list[builtins.bytes] = []
        found: dict[str, Any] = {}
        for chunk in chunks:
            parts.append(chunk.audio)
            for name in ("format", "sample_rate", "encoding", "usage", "cost"):
                value = getattr(chunk, name)
                if value is not None:
                    found[name] = value
        return cls(provider=provider, model=model, audio=b"".join(parts), **{**found, **fields})

    @property
    def mime_type(self) -> str:
        """The MIME type to serve the audio with."""
        return _MIME_TYPES[self.format]

    def bytes(self) -> builtins.bytes:
        """The audio's bytes (the same as ``audio``; every media result has ``bytes()``)."""
        return self.audio

    def save(self, path: str | Path) -> Path:
        """Write the audio to ``path`` (parent folders are created) and return the path.

        The bytes are written as they are: give ``path`` the suffix of ``format``.
        """
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self.audio)
        return target


class SpeechChunk(PolyfaceModel):
    """A piece of streamed audio. The last one has ``final`` set and may carry ``usage`` and ``cost``."""

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    audio: builtins.bytes = Field(repr=False)
    index: int = 0
    format: AudioFormat | None = None
    sample_rate: int | None = None
    encoding: PcmEncoding | None = None
    final: bool = False
    usage: Usage | None = None
    cost: float | None = None
