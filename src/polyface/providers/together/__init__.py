"""``TogetherAdapter``: every Together AI capability, sharing one config (the seed's entry point)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from polyface.providers._base.adapter import Adapter, Capability
from polyface.providers.together.config import TogetherConfig
from polyface.providers.together.fine_tuning import TogetherFineTuning

if TYPE_CHECKING:
    from polyface.providers.together.audio import TogetherAudio
    from polyface.providers.together.embeddings import TogetherEmbeddings
    from polyface.providers.together.files import TogetherFiles
    from polyface.providers.together.image import TogetherImage
    from polyface.providers.together.text import TogetherText
    from polyface.providers.together.video import TogetherVideo
    from polyface.providers.together.voice import TogetherVoice


class TogetherAdapter(Adapter):
    """Together AI. ``TogetherAdapter(api_key=None, base_url=None, **options)``.

    The key comes from ``api_key``, else ``TOGETHER_API_KEY``, else a ``.env`` file; the
    base URL from ``base_url``, else ``TOGETHER_BASE_URL``, else Together's. Options:
    ``timeout`` (read, s), ``connect_timeout``, ``max_retries``, ``rate_limit``
    (``RateLimit(requests_per_minute=..., tokens_per_minute=...)``), ``redis_url``,
    ``catalog_ttl``, ``pricing`` (overrides per model), ``headers``.
    """

    config_class = TogetherConfig
    fine_tuning_class = TogetherFineTuning

    text: Capability[TogetherText] = Capability("polyface.providers.together.text:TogetherText")
    embeddings: Capability[TogetherEmbeddings] = Capability(
        "polyface.providers.together.embeddings:TogetherEmbeddings"
    )
    image: Capability[TogetherImage] = Capability("polyface.providers.together.image:TogetherImage")
    audio: Capability[TogetherAudio] = Capability("polyface.providers.together.audio:TogetherAudio")
    video: Capability[TogetherVideo] = Capability("polyface.providers.together.video:TogetherVideo")
    voice: Capability[TogetherVoice] = Capability("polyface.providers.together.voice:TogetherVoice")
    files: Capability[TogetherFiles] = Capability("polyface.providers.together.files:TogetherFiles")

    config: TogetherConfig


__all__ = ["TogetherAdapter"]
