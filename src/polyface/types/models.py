"""The model catalog: what a provider offers, what each model can do, and its price."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from polyface.types._base import PolyfaceModel
from polyface.types.usage import Usage

Modality = Literal[
    "text",
    "embeddings",
    "rerank",
    "image",
    "speech",
    "transcription",
    "video",
    "voice",
    "moderation",
    "other",
]


class Pricing(PolyfaceModel):
    """Prices in USD. Token prices are per million tokens, as vendors publish them."""

    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0
    per_image: float = 0.0
    per_audio_second: float = 0.0
    per_video_second: float = 0.0
    per_million_characters: float = 0.0
    hourly: float = 0.0
    finetune_per_mtok: float = 0.0
    cached_input_per_mtok: float | None = None
    """The price of input tokens served from the vendor's prompt cache (``usage.details
    ["cached_input_tokens"]``, counted within ``input_tokens``); None: billed as ordinary input."""

    def cost(self, usage: Usage) -> float:
        """The cost in USD of ``usage`` at these prices."""
        cached = min(usage.details.get("cached_input_tokens", 0.0), float(usage.input_tokens))
        cache_saving = (
            cached * (self.input_per_mtok - self.cached_input_per_mtok) / 1_000_000
            if self.cached_input_per_mtok is not None
            else 0.0
        )
        return (
            -cache_saving
            + usage.input_tokens * self.input_per_mtok / 1_000_000
            + usage.output_tokens * self.output_per_mtok / 1_000_000
            + usage.images * self.per_image
            + usage.audio_seconds * self.per_audio_second
            + usage.video_seconds * self.per_video_second
            + usage.characters * self.per_million_characters / 1_000_000
        )


class ModelInfo(PolyfaceModel):
    """One model in a provider's catalog."""

    id: str
    provider: str
    modality: Modality = "other"
    display_name: str | None = None
    owned_by: str | None = None
    context_length: int | None = None
    max_output_tokens: int | None = None
    pricing: Pricing | None = None
    supports_tools: bool | None = None
    supports_json_schema: bool | None = None
    supports_vision: bool | None = None
    raw: dict[str, object] = Field(default_factory=dict, repr=False)
