"""Together voices: the preset voices of each speech model, and picking the preset nearest a recording.

``GET /voices`` answers ``{"data": [{"model", "voices": [{"id", "name"}]}]}``: voices are per model, and
the speech endpoint takes a voice's *name*. polyface's :class:`~polyface.types.voice.Voice` therefore has
``id == name`` (what to pass as ``voice=``) and keeps Together's own id in ``provider_id``.

Together cannot clone a voice. :meth:`TogetherVoice.match` is **nearest-preset selection**: it measures
the persona's recordings, has each preset voice of the model say a fixed phrase, measures those, and
ranks the presets by acoustic distance. The best match only sounds *similar* (pitch, speaking rate,
brightness); it is not the persona's voice. Use a provider that trains or clones voices for that.
"""

from __future__ import annotations

import builtins
import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from polyface.errors import InvalidArgument, ProviderUnavailable
from polyface.media.voice_match import (
    FEATURE_WEIGHTS,
    MATCH_PHRASE,
    compare,
)
from polyface.providers._base.config import ProviderConfig
from polyface.providers._base.voices import PresetVoiceMatcher
from polyface.types.voice import Voice, VoiceProfile

if TYPE_CHECKING:
    from polyface.providers.together.audio import TogetherAudio

VOICES_PATH: Final = "/voices"

_KNOWN: weakref.WeakKeyDictionary[ProviderConfig, dict[str, builtins.list[str]]] = weakref.WeakKeyDictionary()


def known_voices(config: ProviderConfig, model: str) -> builtins.list[str] | None:
    """The voice names of ``model`` if ``.voice.list()`` already fetched them with this config, else None."""
    by_model = _KNOWN.get(config)
    if by_model is None:
        return None
    return by_model.get(model)


def parse_voices(data: Any, *, provider: str) -> builtins.list[Voice]:
    """``GET /voices``'s answer as :class:`Voice` objects, one per (model, voice)."""
    groups = data.get("data") if isinstance(data, Mapping) else None
    if not isinstance(groups, list):
        raise ProviderUnavailable(
            f"the voice list has no 'data' array: {str(data)[:200]!r}", provider="Together AI"
        )
    voices: builtins.list[Voice] = []
    for group in groups:
        if not isinstance(group, Mapping) or not isinstance(group.get("model"), str):
            continue
        for item in group.get("voices") or ():
            if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
                continue
            vendor_id = item.get("id")
            voices.append(
                Voice(
                    id=item["name"],
                    name=item["name"],
                    provider=provider,
                    provider_id=str(vendor_id) if vendor_id is not None else None,
                    model=group["model"],
                )
            )
    return voices


class TogetherVoice(PresetVoiceMatcher):
    """``adapter.voice``: Together's preset voices (``list``) and nearest-preset matching (``match``).

    Measured preset profiles are cached on this object per (model, voice), so matching several personas
    against one model synthesises each preset once.
    """

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self._provider = config.info.name
        self._voices: builtins.list[Voice] | None = None
        self._profiles: dict[tuple[str, str], VoiceProfile] = {}
        self._audio: TogetherAudio | None = None

    # ---- list --------------------------------------------------------------------------------
    def _store(self, voices: builtins.list[Voice]) -> None:
        self._voices = voices
        by_model: dict[str, builtins.list[str]] = {}
        for voice in voices:
            if voice.model is not None:
                by_model.setdefault(voice.model, []).append(voice.id)
        _KNOWN[self.config] = by_model

    @staticmethod
    def _filter(voices: builtins.list[Voice], model: str | None) -> builtins.list[Voice]:
        return [v for v in voices if model is None or v.model == model]

    def list(self, *, model: str | None = None, refresh: bool = False) -> builtins.list[Voice]:
        """The preset voices of ``model`` (every speech model's when None). Fetched once, then cached
        (``refresh=True`` fetches again). Once fetched, ``adapter.audio.speak`` refuses unknown voices
        of a listed model before sending anything."""
        if self._voices is None or refresh:
            response = self.config.http.request("GET", VOICES_PATH)
            self._store(parse_voices(response.json(), provider=self._provider))
        assert self._voices is not None
        return self._filter(self._voices, model)

    async def alist(self, *, model: str | None = None, refresh: bool = False) -> builtins.list[Voice]:
        if self._voices is None or refresh:
            response = await self.config.http.arequest("GET", VOICES_PATH)
            self._store(parse_voices(response.json(), provider=self._provider))
        assert self._voices is not None
        return self._filter(self._voices, model)

    # ---- match -------------------------------------------------------------------------------
    @property
    def audio(self) -> TogetherAudio:
        if self._audio is None:
            from polyface.providers.together.audio import TogetherAudio

            self._audio = TogetherAudio(self.config)
        return self._audio

    @staticmethod
    def _candidates(
        all_voices: builtins.list[Voice], model: str | None, only: Sequence[str] | None
    ) -> tuple[str, builtins.list[Voice]]:
        models = sorted({v.model for v in all_voices if v.model is not None})
        if model is None:
            if len(models) != 1:
                raise InvalidArgument(
                    f"pass model=... to say whose preset voices to match; Together has voices for: "
                    f"{', '.join(models)}."
                )
            model = models[0]
        voices = [v for v in all_voices if v.model == model]
        if not voices:
            raise InvalidArgument(
                f"Together lists no voices for {model!r}; models with voices: {', '.join(models)}."
            )
        if only is not None:
            names = {v.id for v in voices}
            unknown = [name for name in only if name not in names]
            if unknown:
                raise InvalidArgument(
                    f"{unknown[0]!r} is not a voice of {model}; choose among: {', '.join(sorted(names))}."
                )
            voices = [v for v in voices if v.id in set(only)]
        return model, voices

    def _pick(self, model: str | None, only: Sequence[str] | None) -> tuple[str, builtins.list[Voice]]:
        return self._candidates(self.list(), model, only)

    async def _apick(self, model: str | None, only: Sequence[str] | None) -> tuple[str, builtins.list[Voice]]:
        return self._candidates(await self.alist(), model, only)


__all__ = ["FEATURE_WEIGHTS", "MATCH_PHRASE", "TogetherVoice", "compare", "known_voices", "parse_voices"]
