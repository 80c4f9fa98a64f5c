"""Together fine-tuning, one module per modality."""

from __future__ import annotations

from typing import Any

from polyface.providers._base.adapter import Capability, Namespace

NEXT = "Together AI fine-tuning is not in polyface yet (it lands with the Together capabilities issue)"
NO_MEDIA = "Together AI offers no {} fine-tuning API"


class TogetherFineTuning(Namespace):
    text: Capability[Any] = Capability(None, reason=NEXT)
    voice: Capability[Any] = Capability(None, reason=NO_MEDIA.format("voice"))
    image: Capability[Any] = Capability(None, reason=NO_MEDIA.format("image"))
    audio: Capability[Any] = Capability(None, reason=NO_MEDIA.format("speech-recognition"))
    video: Capability[Any] = Capability(None, reason=NO_MEDIA.format("video"))
