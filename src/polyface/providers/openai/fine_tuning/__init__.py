"""OpenAI fine-tuning, one module per modality."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from polyface.providers._base.adapter import Capability, Namespace

if TYPE_CHECKING:
    from polyface.providers.openai.fine_tuning.text import OpenAITextFineTuning
    from polyface.providers.openai.fine_tuning.voice import OpenAIVoiceFineTuning

IMAGE = "OpenAI has no image fine-tuning API (fine-tuned chat models may take image inputs: fine_tuning.text)"
AUDIO = "OpenAI has no speech-recognition fine-tuning API"
VIDEO = "OpenAI retired its Sora video API in 2026 and never offered video fine-tuning"


class OpenAIFineTuning(Namespace):
    text: Capability[OpenAITextFineTuning] = Capability(
        "polyface.providers.openai.fine_tuning.text:OpenAITextFineTuning"
    )
    voice: Capability[OpenAIVoiceFineTuning] = Capability(
        "polyface.providers.openai.fine_tuning.voice:OpenAIVoiceFineTuning"
    )
    image: Capability[Any] = Capability(None, reason=IMAGE, offered_by=("local",))
    audio: Capability[Any] = Capability(None, reason=AUDIO, offered_by=("local",))
    video: Capability[Any] = Capability(None, reason=VIDEO, offered_by=("local",))
