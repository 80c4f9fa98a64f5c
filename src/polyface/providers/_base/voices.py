"""Nearest-preset voice matching, for providers that offer preset voices but no cloning.

A provider's ``.voice`` subclasses :class:`PresetVoiceMatcher` and says which presets to try
(:meth:`_pick` / :meth:`_apick`) and how to speak (its ``audio`` capability); measuring,
caching and ranking live here once (the pure parts in :mod:`polyface.media.voice_match`).
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Mapping, Sequence
from typing import Any

from polyface.capabilities import AudioInput
from polyface.media.voice_match import FEATURE_WEIGHTS, MATCH_PHRASE, check_limit, measure_target, rank
from polyface.types.voice import Voice, VoiceMatch, VoiceProfile


class PresetVoiceMatcher:
    """``profile``/``match`` (and async twins) over a provider's preset voices."""

    _profiles: dict[tuple[str, str], VoiceProfile]

    @property
    def audio(self) -> Any:
        """The provider's speech capability (``speak``/``aspeak`` with ``format="wav"``)."""
        raise NotImplementedError

    def _pick(self, model: str | None, only: Sequence[str] | None) -> tuple[str, builtins.list[Voice]]:
        """(the model to speak with, the preset voices to try)."""
        raise NotImplementedError

    async def _apick(self, model: str | None, only: Sequence[str] | None) -> tuple[str, builtins.list[Voice]]:
        return self._pick(model, only)

    def profile(self, model: str, voice: str, *, phrase: str = MATCH_PHRASE) -> VoiceProfile:
        """The measured profile of a preset voice (synthesised once per (model, voice), then cached)."""
        key = (model, voice)
        if key not in self._profiles or phrase != MATCH_PHRASE:
            from polyface.media import acoustics

            speech = self.audio.speak(model=model, text=phrase, voice=voice, format="wav")
            measured = acoustics.measure(speech.audio)
            if phrase != MATCH_PHRASE:
                return measured
            self._profiles[key] = measured
        return self._profiles[key]

    async def aprofile(self, model: str, voice: str, *, phrase: str = MATCH_PHRASE) -> VoiceProfile:
        key = (model, voice)
        if key not in self._profiles or phrase != MATCH_PHRASE:
            from polyface.media import acoustics

            speech = await self.audio.aspeak(model=model, text=phrase, voice=voice, format="wav")
            measured = await asyncio.to_thread(acoustics.measure, speech.audio)
            if phrase != MATCH_PHRASE:
                return measured
            self._profiles[key] = measured
        return self._profiles[key]

    def match(
        self,
        target: VoiceProfile | AudioInput | Sequence[AudioInput],
        *,
        model: str | None = None,
        limit: int = 5,
        voices: Sequence[str] | None = None,
        phrase: str = MATCH_PHRASE,
        weights: Mapping[str, float] = FEATURE_WEIGHTS,
    ) -> builtins.list[VoiceMatch]:
        """The ``limit`` preset voices of ``model`` that sound closest to ``target``, best first.

        **This is nearest-preset selection, not voice cloning.** ``target`` is a :class:`VoiceProfile` or
        the persona's recordings (WAV paths, bytes or open files; several are pooled). Each preset (or only
        those named in ``voices``) says ``phrase`` once; the recordings and the presets are measured with
        :mod:`polyface.media.acoustics` (median pitch, pitch range, speaking rate, spectral centroid and
        tilt) and compared with ``weights``. Each :class:`VoiceMatch` has the ``distance`` (0 = identical;
        1 = about one audible step on average), ``score`` = 1 / (1 + distance), the preset's measured
        ``voice.profile`` and an ``explanation`` such as "pitch 182 Hz vs 175 Hz (+0.7 st), rate 4.1 vs
        3.9 syl/s, ..." (preset vs target). Speaking a phrase costs what a speech call costs; profiles are
        cached per instance.
        """
        check_limit(limit)
        measured = measure_target(target)
        chosen, candidates = self._pick(model, voices)
        pairs = [(v, self.profile(chosen, v.id, phrase=phrase)) for v in candidates]
        return rank(measured, pairs, limit, weights)

    async def amatch(
        self,
        target: VoiceProfile | AudioInput | Sequence[AudioInput],
        *,
        model: str | None = None,
        limit: int = 5,
        voices: Sequence[str] | None = None,
        phrase: str = MATCH_PHRASE,
        weights: Mapping[str, float] = FEATURE_WEIGHTS,
        concurrency: int = 4,
    ) -> builtins.list[VoiceMatch]:
        """The async twin of :meth:`match` (presets are synthesised ``concurrency`` at a time)."""
        check_limit(limit)
        measured = await asyncio.to_thread(measure_target, target)
        chosen, candidates = await self._apick(model, voices)
        gate = asyncio.Semaphore(max(1, concurrency))

        async def one(voice: Voice) -> tuple[Voice, VoiceProfile]:
            async with gate:
                return voice, await self.aprofile(chosen, voice.id, phrase=phrase)

        pairs = await asyncio.gather(*(one(v) for v in candidates))
        return rank(measured, pairs, limit, weights)
