"""Usage of one call, in the units its provider bills, and its cost."""

from __future__ import annotations

from pydantic import Field

from polyface.types._base import PolyfaceModel


class Usage(PolyfaceModel):
    """What a call used. Token counts for text; other units for other modalities."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    images: int = 0
    audio_seconds: float = 0.0
    video_seconds: float = 0.0
    characters: int = 0
    details: dict[str, float] = Field(default_factory=dict)

    @property
    def prompt_tokens(self) -> int:
        """OpenAI's name for ``input_tokens``."""
        return self.input_tokens

    @property
    def completion_tokens(self) -> int:
        """OpenAI's name for ``output_tokens``."""
        return self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        details = dict(self.details)
        for key, value in other.details.items():
            details[key] = details.get(key, 0.0) + value
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            images=self.images + other.images,
            audio_seconds=self.audio_seconds + other.audio_seconds,
            video_seconds=self.video_seconds + other.video_seconds,
            characters=self.characters + other.characters,
            details=details,
        )
