"""OpenAI: where it lives, how it authenticates, and how its model list reads.

OpenAI's ``GET /models`` gives only ``id``, ``created`` and ``owned_by``: what a model does is inferred from
its name (:func:`modality_of`), its context window and output limit come from a small table of the
families OpenAI documents (:func:`limits_of`), and its prices from the table shipped as
``polyface/providers/prices/openai.json`` (the catalog falls back to it by itself).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from polyface.providers._base.catalog import fine_tuned_base
from polyface.providers._base.config import ProviderConfig, ProviderInfo

if TYPE_CHECKING:
    from polyface.types.models import Modality, ModelInfo

OPENAI = ProviderInfo(
    name="openai",
    display_name="OpenAI",
    default_base_url="https://api.openai.com/v1",
    api_key_env="OPENAI_API_KEY",
    base_url_env="OPENAI_BASE_URL",
    request_id_headers=("x-request-id",),
)

# (pattern on the base model name, modality), first match wins: speech and transcription models are named
# gpt-* too, so they come before the text rule.
_MODALITY_RULES: tuple[tuple[re.Pattern[str], Modality], ...] = (
    (re.compile(r"^(whisper|gpt-.*-transcribe)"), "transcription"),
    (re.compile(r"^(tts-|gpt-.*-tts)"), "speech"),
    (re.compile(r"^(dall-e|gpt-image|chatgpt-image)"), "image"),
    (re.compile(r"^sora"), "video"),
    (re.compile(r"^text-embedding-"), "embeddings"),
    (re.compile(r"^(omni-moderation|text-moderation)"), "moderation"),
    (re.compile(r"realtime"), "other"),  # served over WebSocket/WebRTC, not chat completions
    (re.compile(r"^(gpt-|o\d|chatgpt-|davinci-002|babbage-002)"), "text"),
)

# (context window, max output tokens) per model family, from OpenAI's model pages; the longest prefix wins.
_LIMITS: dict[str, tuple[int, int]] = {
    "gpt-5": (400_000, 128_000),
    "gpt-5-chat": (128_000, 16_384),
    "gpt-4.1": (1_047_576, 32_768),
    "gpt-4o": (128_000, 16_384),
    "gpt-4o-2024-05-13": (128_000, 4_096),
    "chatgpt-4o": (128_000, 16_384),
    "gpt-4-turbo": (128_000, 4_096),
    "gpt-4": (8_192, 8_192),
    "gpt-3.5-turbo": (16_385, 4_096),
    "gpt-3.5-turbo-instruct": (4_096, 4_096),
    "o1": (200_000, 100_000),
    "o1-mini": (128_000, 65_536),
    "o3": (200_000, 100_000),
    "o3-mini": (200_000, 100_000),
    "o4-mini": (200_000, 100_000),
    "davinci-002": (16_384, 16_384),
    "babbage-002": (16_384, 16_384),
    "text-embedding-3-small": (8_192, 0),
    "text-embedding-3-large": (8_192, 0),
    "text-embedding-ada-002": (8_192, 0),
}

_COMPLETIONS_ONLY = ("gpt-3.5-turbo-instruct", "davinci-002", "babbage-002")
"""Text models served only by the legacy ``POST /completions`` (no chat, no tools)."""


base_model = fine_tuned_base


def _family(name: str, table: dict[str, Any]) -> str | None:
    if name in table:
        return name
    matches = [key for key in table if name.startswith(key + "-")]
    return max(matches, key=len) if matches else None


def modality_of(model: str) -> Modality:
    """What an OpenAI model does, from its name (OpenAI's model list does not say)."""
    name = base_model(model).lower()
    for pattern, modality in _MODALITY_RULES:
        if pattern.search(name):
            return modality
    return "other"


def limits_of(model: str) -> tuple[int | None, int | None]:
    """(context window, max output tokens) for the model families OpenAI documents; (None, None) else."""
    family = _family(base_model(model), _LIMITS)
    if family is None or modality_of(model) not in ("text", "embeddings"):
        return None, None
    context, output = _LIMITS[family]
    return context, output or None


def completions_only(model: str) -> bool:
    """Whether the model is one of the legacy ones served by ``POST /completions`` only."""
    return _family(base_model(model), dict.fromkeys(_COMPLETIONS_ONLY)) is not None


def chat_only(model: str) -> bool:
    """Whether the model is an OpenAI chat model (which ``POST /completions`` refuses)."""
    return modality_of(model) == "text" and not completions_only(model)


class OpenAIConfig(ProviderConfig):
    info = OPENAI

    def parse_models(self, data: Any) -> list[ModelInfo]:
        """``{"object": "list", "data": [{"id", "created", "owned_by"}...]}`` as :class:`ModelInfo`s. Prices
        are left to the shipped table (OpenAI's list has none)."""
        from polyface.types.models import ModelInfo

        items = data.get("data", []) if isinstance(data, dict) else data
        models: list[ModelInfo] = []
        for item in items or ():
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                continue
            model_id = item["id"]
            modality = modality_of(model_id)
            context, max_output = limits_of(model_id)
            owner = item.get("owned_by")
            models.append(
                ModelInfo(
                    id=model_id,
                    provider=self.info.name,
                    modality=modality,
                    owned_by=owner if isinstance(owner, str) else None,
                    context_length=context,
                    max_output_tokens=max_output,
                    supports_tools=False if completions_only(model_id) else None,
                    raw=item,
                )
            )
        return models


__all__ = [
    "OPENAI",
    "OpenAIConfig",
    "base_model",
    "chat_only",
    "completions_only",
    "limits_of",
    "modality_of",
]
