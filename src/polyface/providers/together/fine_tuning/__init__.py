"""Together fine-tuning, one module per modality."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from polyface.providers._base.adapter import Capability, Namespace

if TYPE_CHECKING:
    from polyface.providers.together.fine_tuning.text import TogetherTextFineTuning

VOICE = (
    "Together AI has no voice cloning or voice fine-tuning API; to sound like a persona on Together, "
    "pick the closest preset voice with .voice.match(samples)"
)
IMAGE = (
    "Together AI has no image fine-tuning API; for a persona's look on Together, condition generation "
    "with .image.generate(reference_images=[...]) or apply an existing LoRA with image_loras=[...]"
)
AUDIO = "Together AI has no speech-recognition fine-tuning API"
VIDEO = (
    "Together AI has no video fine-tuning API; for a persona's look and voice in video on Together, "
    "use .video.generate(reference_images=[...], audio_inputs=[...])"
)


class TogetherFineTuning(Namespace):
    text: Capability[TogetherTextFineTuning] = Capability(
        "polyface.providers.together.fine_tuning.text:TogetherTextFineTuning"
    )
    voice: Capability[Any] = Capability(None, reason=VOICE, offered_by=("openai", "local"))
    image: Capability[Any] = Capability(None, reason=IMAGE, offered_by=("local",))
    audio: Capability[Any] = Capability(None, reason=AUDIO, offered_by=("local",))
    video: Capability[Any] = Capability(None, reason=VIDEO, offered_by=("local",))
