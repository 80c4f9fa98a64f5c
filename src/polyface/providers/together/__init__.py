"""``TogetherAdapter``: every Together AI capability, sharing one config (the seed's entry point)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from polyface.providers._base.adapter import Adapter, Capability
from polyface.providers.together.config import TogetherConfig
from polyface.providers.together.fine_tuning import TogetherFineTuning

if TYPE_CHECKING:
    from polyface.providers.together.text import TogetherText

NEXT = "Together AI {} is not in polyface yet (it lands with the Together capabilities issue)"


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
    embeddings: Capability[Any] = Capability(None, reason=NEXT.format("embeddings"))
    image: Capability[Any] = Capability(None, reason=NEXT.format("image generation"))
    audio: Capability[Any] = Capability(None, reason=NEXT.format("audio"))
    video: Capability[Any] = Capability(None, reason=NEXT.format("video generation"))
    voice: Capability[Any] = Capability(None, reason=NEXT.format("voices"))

    config: TogetherConfig


__all__ = ["TogetherAdapter"]
