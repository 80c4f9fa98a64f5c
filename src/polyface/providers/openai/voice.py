"""OpenAI voices: the preset voices, the custom voices made here, and the preset nearest a recording.

OpenAI publishes no endpoint that lists voices: :meth:`OpenAIVoice.list` returns the documented presets
(:data:`~polyface.providers.openai.audio.PRESET_VOICES`; ``tts-1``/``tts-1-hd`` speak nine of them) and the
custom voices this adapter created (``adapter.fine_tuning.voice.train``) in this process, marked
``custom=True``. :meth:`OpenAIVoice.match` is nearest-preset selection (shared with every provider in
:mod:`polyface.media.voice_match`); to speak in the persona's own voice, make a custom voice.
"""

from __future__ import annotations

import builtins
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from polyface.errors import InvalidArgument
from polyface.providers._base.config import ProviderConfig
from polyface.providers._base.voices import PresetVoiceMatcher
from polyface.providers.openai.audio import PRESET_VOICES, TTS1_VOICES
from polyface.types.voice import Voice, VoiceProfile

if TYPE_CHECKING:
    from polyface.providers.openai.audio import OpenAIAudio

DEFAULT_MATCH_MODEL: Final = "gpt-4o-mini-tts"

_CUSTOM: weakref.WeakKeyDictionary[ProviderConfig, dict[str, Voice]] = weakref.WeakKeyDictionary()


def remember_custom_voice(config: ProviderConfig, voice: Voice) -> None:
    """Record a custom voice made with ``config`` so that ``.voice.list()`` shows it."""
    _CUSTOM.setdefault(config, {})[voice.id] = voice


def forget_custom_voice(config: ProviderConfig, voice_id: str) -> None:
    _CUSTOM.get(config, {}).pop(voice_id, None)


def custom_voices(config: ProviderConfig) -> builtins.list[Voice]:
    return builtins.list(_CUSTOM.get(config, {}).values())


def preset_voices(model: str | None, provider: str = "openai") -> builtins.list[Voice]:
    """The presets ``model`` speaks (every preset when None), as :class:`Voice` objects."""
    names = TTS1_VOICES if model is not None and model.lower().startswith("tts-1") else PRESET_VOICES
    return [Voice(id=name, name=name, provider=provider, model=model) for name in names]


class OpenAIVoice(PresetVoiceMatcher):
    """``adapter.voice``: OpenAI's voices (``list``) and nearest-preset matching (``match``).

    Measured preset profiles are cached on this object per (model, voice)."""

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self._provider = config.info.name
        self._profiles: dict[tuple[str, str], VoiceProfile] = {}
        self._audio: OpenAIAudio | None = None

    def list(self, *, model: str | None = None, custom: bool = True) -> builtins.list[Voice]:
        """The preset voices (of ``model`` when given), then the custom voices made with this adapter in
        this process (``custom=False`` leaves them out). Nothing is fetched: OpenAI has no voice list."""
        voices = preset_voices(model, self._provider)
        if custom and (model is None or not model.lower().startswith("tts-1")):
            voices += custom_voices(self.config)
        return voices

    async def alist(self, *, model: str | None = None, custom: bool = True) -> builtins.list[Voice]:
        return self.list(model=model, custom=custom)

    @property
    def audio(self) -> OpenAIAudio:
        if self._audio is None:
            from polyface.providers.openai.audio import OpenAIAudio

            self._audio = OpenAIAudio(self.config)
        return self._audio

    def _candidates(self, model: str, only: Sequence[str] | None) -> builtins.list[Voice]:
        voices = preset_voices(model, self._provider)
        if only is None:
            return voices
        names = {v.id for v in voices}
        unknown = [name for name in only if name not in names]
        if unknown:
            raise InvalidArgument(
                f"{unknown[0]!r} is not a voice of {model}; choose among: {', '.join(sorted(names))}."
            )
        return [v for v in voices if v.id in set(only)]

    def _pick(self, model: str | None, only: Sequence[str] | None) -> tuple[str, builtins.list[Voice]]:
        chosen = model or DEFAULT_MATCH_MODEL  # nearest preset, not a clone: for the persona's own voice use
        return chosen, self._candidates(chosen, only)  # adapter.fine_tuning.voice.train(samples, consent=...)


__all__ = ["DEFAULT_MATCH_MODEL", "OpenAIVoice", "custom_voices", "preset_voices", "remember_custom_voice"]
