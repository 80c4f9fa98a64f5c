"""``OpenAIAdapter``: every OpenAI capability polyface offers, sharing one config."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from polyface.providers._base.adapter import Adapter, Capability
from polyface.providers.openai.config import OpenAIConfig
from polyface.providers.openai.fine_tuning import OpenAIFineTuning

if TYPE_CHECKING:
    from polyface.providers.openai.audio import OpenAIAudio
    from polyface.providers.openai.embeddings import OpenAIEmbeddings
    from polyface.providers.openai.files import OpenAIFiles
    from polyface.providers.openai.image import OpenAIImage
    from polyface.providers.openai.text import OpenAIText
    from polyface.providers.openai.voice import OpenAIVoice

VIDEO = "OpenAI retired its Sora video API in 2026, so polyface offers no OpenAI video generation"


class OpenAIAdapter(Adapter):
    """OpenAI. ``OpenAIAdapter(api_key=None, base_url=None, **options)``: the key from ``api_key``, else
    ``OPENAI_API_KEY``, else a ``.env`` file; the base URL (which includes ``/v1``) from ``base_url``, else
    ``OPENAI_BASE_URL``, else OpenAI's. Options as for every adapter (timeouts, retries, rate_limit, ...)."""

    config_class = OpenAIConfig
    fine_tuning_class = OpenAIFineTuning

    text: Capability[OpenAIText] = Capability("polyface.providers.openai.text:OpenAIText")
    embeddings: Capability[OpenAIEmbeddings] = Capability(
        "polyface.providers.openai.embeddings:OpenAIEmbeddings"
    )
    image: Capability[OpenAIImage] = Capability("polyface.providers.openai.image:OpenAIImage")
    audio: Capability[OpenAIAudio] = Capability("polyface.providers.openai.audio:OpenAIAudio")
    video: Capability[Any] = Capability(None, reason=VIDEO, offered_by=("together", "local"))
    voice: Capability[OpenAIVoice] = Capability("polyface.providers.openai.voice:OpenAIVoice")
    files: Capability[OpenAIFiles] = Capability("polyface.providers.openai.files:OpenAIFiles")

    config: OpenAIConfig


__all__ = ["OpenAIAdapter"]
