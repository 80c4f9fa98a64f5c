"""``AnthropicAdapter``: Claude through Anthropic's Messages API, sharing one config.

Anthropic offers text only (plus token counting and Message Batches); every other capability raises
:class:`~polyface.errors.CapabilityNotSupported` naming the providers that offer it.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from polyface.providers._base.adapter import Adapter, Capability, Namespace
from polyface.providers.anthropic.config import AnthropicConfig

if TYPE_CHECKING:
    from polyface.providers.anthropic.batches import AnthropicBatches
    from polyface.providers.anthropic.text import AnthropicText

EMBEDDINGS = "Anthropic has no embeddings API (its docs point to Voyage AI)"
IMAGE = "Anthropic has no image generation API (Claude reads images but does not make them)"
AUDIO = "Anthropic has no speech synthesis or transcription API"
VIDEO = "Anthropic has no video generation API"
VOICE = "Anthropic has no voices"
FINE_TUNING = "Anthropic offers no {what} fine-tuning API"


class AnthropicFineTuning(Namespace):
    """Anthropic's API trains nothing: each modality says who does."""

    text: Capability[Any] = Capability(
        None, reason=FINE_TUNING.format(what="text"), offered_by=("together", "openai", "local")
    )
    voice: Capability[Any] = Capability(
        None, reason=FINE_TUNING.format(what="voice"), offered_by=("openai", "local")
    )
    image: Capability[Any] = Capability(None, reason=FINE_TUNING.format(what="image"), offered_by=("local",))
    audio: Capability[Any] = Capability(None, reason=FINE_TUNING.format(what="audio"), offered_by=("local",))
    video: Capability[Any] = Capability(None, reason=FINE_TUNING.format(what="video"), offered_by=("local",))


class AnthropicAdapter(Adapter):
    """Anthropic. ``AnthropicAdapter(api_key=None, base_url=None, **options)``: the key from ``api_key``,
    else ``ANTHROPIC_API_KEY``, else a ``.env`` file (sent as ``x-api-key``); the base URL (the host root,
    ``https://api.anthropic.com``) from ``base_url``, else ``ANTHROPIC_BASE_URL``. Options as for every
    adapter (timeouts, retries, rate_limit, pricing, headers: an ``anthropic-beta`` header goes here).

    ``.text`` (generate, stream, count_tokens) and ``.batches`` (Message Batches).
    """

    config_class = AnthropicConfig
    fine_tuning_class = AnthropicFineTuning

    text: Capability[AnthropicText] = Capability("polyface.providers.anthropic.text:AnthropicText")
    embeddings: Capability[Any] = Capability(
        None, reason=EMBEDDINGS, offered_by=("together", "openai", "local")
    )
    image: Capability[Any] = Capability(None, reason=IMAGE, offered_by=("together", "openai", "local"))
    audio: Capability[Any] = Capability(None, reason=AUDIO, offered_by=("together", "openai", "local"))
    video: Capability[Any] = Capability(None, reason=VIDEO, offered_by=("together", "local"))
    voice: Capability[Any] = Capability(None, reason=VOICE, offered_by=("together", "openai", "local"))

    config: AnthropicConfig

    @cached_property
    def batches(self) -> AnthropicBatches:
        """Message Batches: ``create(requests)``, ``get``, ``list``, ``cancel``, ``results``, ``delete``."""
        from polyface.providers.anthropic.batches import AnthropicBatches

        return AnthropicBatches(self.config)


__all__ = ["AnthropicAdapter", "AnthropicFineTuning"]
