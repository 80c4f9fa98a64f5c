"""Transcription and translation: audio in, text (with timed segments, words and speakers) out."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field

from polyface.types._base import PolyfaceModel
from polyface.types.usage import Usage


class TranscriptionWord(PolyfaceModel):
    """One word and when it was said, in seconds from the start of the audio."""

    word: str
    start: float
    end: float
    speaker: str | None = Field(default=None, validation_alias=AliasChoices("speaker", "speaker_id"))
    """The speaker's label when diarization was asked for (Together sends it as ``speaker_id``)."""
    id: int | None = None
    probability: float | None = None


class TranscriptionSegment(PolyfaceModel):
    """A stretch of speech. The optional fields are Whisper's decoding details, kept when sent."""

    id: int | str | None = None
    start: float
    end: float
    text: str
    speaker: str | None = Field(default=None, validation_alias=AliasChoices("speaker", "speaker_id"))
    words: list[TranscriptionWord] = Field(default_factory=list)
    seek: int | None = None
    tokens: list[int] | None = None
    temperature: float | None = None
    avg_logprob: float | None = None
    compression_ratio: float | None = None
    no_speech_prob: float | None = None
    type: str | None = None
    """The vendor's segment type, e.g. OpenAI's ``transcript.text.segment`` in diarized output."""


class Transcription(PolyfaceModel):
    """What was said in a recording: the text, and the timings when the provider gave them."""

    provider: str
    model: str
    text: str
    task: Literal["transcribe", "translate"] = "transcribe"
    language: str | None = None
    """As the vendor names it: an ISO code (``en``) or a name (OpenAI's ``english``)."""
    duration: float | None = None
    """Seconds of audio."""
    segments: list[TranscriptionSegment] = Field(default_factory=list)
    words: list[TranscriptionWord] = Field(default_factory=list)
    speaker_segments: list[TranscriptionSegment] = Field(default_factory=list)
    """Per-speaker turns, with their words, when diarization was asked for (Together's shape;
    OpenAI's diarized output puts ``speaker`` on ``segments`` instead)."""
    usage: Usage = Field(default_factory=Usage)
    cost: float | None = None
    """USD, from the provider's catalog pricing; None when the catalog has no price for the model."""
    raw: dict[str, Any] = Field(default_factory=dict, repr=False, exclude=True)

    @property
    def speakers(self) -> list[str]:
        """Every speaker label found, in order of first appearance in the audio."""
        items: list[TranscriptionSegment | TranscriptionWord] = [
            *self.segments,
            *self.speaker_segments,
            *self.words,
        ]
        seen: dict[str, None] = {}
        for item in sorted(items, key=lambda item: item.start):
            if item.speaker is not None:
                seen.setdefault(item.speaker, None)
        return list(seen)
