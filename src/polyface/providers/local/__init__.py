"""``LocalAdapter``: every modality offline, on the CPU, with small real models shipped in PyPI packages.

Text: SmolLM2-135M-Instruct on llama.cpp (``polyface[local-fast]``) or transformers. Embeddings:
all-MiniLM-L6-v2. Speech: eSpeak NG. Transcription: PocketSphinx. Image: a portrait compositor.
Video: the portrait as a talking head, muxed with its speech by ffmpeg. Training in every modality:
LoRA adapters, fitted voice profiles, domain language models, learned portraits and motion.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal

from polyface.providers._base.adapter import Adapter, Capability, Namespace
from polyface.providers.local.config import LocalConfig, TextEngine

if TYPE_CHECKING:
    from polyface.providers.local.audio import LocalAudio
    from polyface.providers.local.embeddings import LocalEmbeddings
    from polyface.providers.local.fine_tuning.audio import LocalAudioTraining
    from polyface.providers.local.fine_tuning.image import LocalImageTraining
    from polyface.providers.local.fine_tuning.text import LocalTextTraining
    from polyface.providers.local.fine_tuning.video import LocalVideoTraining
    from polyface.providers.local.fine_tuning.voice import LocalVoiceTraining
    from polyface.providers.local.image import LocalImage
    from polyface.providers.local.store import LocalModel
    from polyface.providers.local.text import LocalText
    from polyface.providers.local.video import LocalVideo
    from polyface.providers.local.voice import LocalVoice

_FT = "polyface.providers.local.fine_tuning"


class LocalFineTuning(Namespace):
    """``LocalAdapter().fine_tuning.text`` / ``.voice`` / ``.image`` / ``.audio`` / ``.video``."""

    text: Capability[LocalTextTraining] = Capability(f"{_FT}.text:LocalTextTraining")
    voice: Capability[LocalVoiceTraining] = Capability(f"{_FT}.voice:LocalVoiceTraining")
    image: Capability[LocalImageTraining] = Capability(f"{_FT}.image:LocalImageTraining")
    audio: Capability[LocalAudioTraining] = Capability(f"{_FT}.audio:LocalAudioTraining")
    video: Capability[LocalVideoTraining] = Capability(f"{_FT}.video:LocalVideoTraining")


class LocalAdapter(Adapter):
    """The offline provider. ``LocalAdapter(data_dir=None, cache_dir=None, engine="auto", threads=None)``.

    No key, no network. Trained models live under ``data_dir`` (default ``POLYFACE_HOME`` or the user's
    data folder) and are listed by :meth:`models` beside the shipped ones. ``engine`` picks the text
    engine: ``"auto"`` (llama.cpp when installed, else transformers), ``"llama.cpp"`` or
    ``"transformers"``; each call may also pass ``engine=``.
    """

    config_class = LocalConfig
    fine_tuning_class = LocalFineTuning

    text: Capability[LocalText] = Capability("polyface.providers.local.text:LocalText")
    embeddings: Capability[LocalEmbeddings] = Capability(
        "polyface.providers.local.embeddings:LocalEmbeddings"
    )
    image: Capability[LocalImage] = Capability("polyface.providers.local.image:LocalImage")
    audio: Capability[LocalAudio] = Capability("polyface.providers.local.audio:LocalAudio")
    video: Capability[LocalVideo] = Capability("polyface.providers.local.video:LocalVideo")
    voice: Capability[LocalVoice] = Capability("polyface.providers.local.voice:LocalVoice")

    config: LocalConfig

    def __init__(
        self,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        engine: TextEngine = "auto",
        threads: int | None = None,
        dtype: Literal["bfloat16", "float32"] = "bfloat16",
        **options: Any,
    ) -> None:
        super().__init__(
            data_dir=data_dir, cache_dir=cache_dir, engine=engine, threads=threads, dtype=dtype, **options
        )

    def model(self, model_id: str) -> LocalModel:
        """One model's record: what it is, what it was trained from, what training measured."""
        return self.config.store.get(model_id)

    def delete_model(self, model_id: str) -> None:
        """Delete a model trained here (shipped ones cannot be deleted)."""
        from polyface.providers.local.runtime import forget

        self.config.store.delete(model_id)
        forget((model_id,))

    def __repr__(self) -> str:
        return f"LocalAdapter(data_dir={str(self.config.data_dir)!r}, engine={self.config.engine!r})"


__all__ = ["LocalAdapter"]
