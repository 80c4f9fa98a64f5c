"""Local voices: the eSpeak NG presets and the voices trained here, each with a measured profile.

A preset's :class:`~polyface.types.voice.VoiceProfile` is measured by having it say
:data:`~polyface.media.voice_match.MATCH_PHRASE` and analysing that with
:mod:`polyface.media.acoustics` (pitch, pitch range, speaking rate, brightness, tilt). Measuring takes a
fraction of a second per voice, so it happens on first use and is cached: in memory for the process and
in ``<cache_dir>/local/voice-profiles.json`` across processes. A trained voice (``espeak-ng:<name>``)
carries the profile measured when it was fitted. ``match`` ranks all of them against a target profile or
recordings (nearest voice, not a clone; ``fine_tuning.voice.train`` fits one to the recordings).
"""

from __future__ import annotations

import builtins
import contextlib
import json
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from polyface.capabilities import AudioInput
from polyface.errors import InvalidArgument
from polyface.media.voice_match import MATCH_PHRASE, check_limit, measure_target, rank
from polyface.providers.local import espeak
from polyface.providers.local.audio import PRESETS, SPEECH_MODEL, trained_settings
from polyface.providers.local.runtime import to_thread
from polyface.providers.local.store import write_json
from polyface.types.voice import Voice, VoiceMatch, VoiceProfile

if TYPE_CHECKING:
    from pathlib import Path

    from polyface.providers.local.config import LocalConfig

PROFILE_FILE: Final = "voice-profiles.json"
_memory: dict[str, VoiceProfile] = {}
_lock = threading.Lock()


def _key(settings: espeak.VoiceSettings) -> str:
    return f"{settings.name}|p{settings.pitch}|r{settings.range}|w{settings.rate}|{MATCH_PHRASE}"


def _cache_file(config: LocalConfig) -> Path:
    return config.cache_dir / "local" / PROFILE_FILE


def settings_profile(config: LocalConfig, settings: espeak.VoiceSettings) -> VoiceProfile:
    """The measured profile of eSpeak NG speaking :data:`MATCH_PHRASE` with ``settings`` (cached)."""
    from polyface.media import acoustics

    key = _key(settings)
    with _lock:
        if key in _memory:
            return _memory[key]
        path = _cache_file(config)
        stored: dict[str, object] = {}
        if path.is_file():
            try:
                stored = json.loads(path.read_text(encoding="utf-8"))
            except ValueError:
                stored = {}
        if key in stored:
            try:
                _memory[key] = VoiceProfile.model_validate(stored[key])
                return _memory[key]
            except ValueError:
                pass
    samples, rate = espeak.synthesize(MATCH_PHRASE, settings)
    profile = acoustics.analyze(acoustics.Waveform(samples / 32768.0, rate))
    with _lock:
        _memory[key] = profile
        path = _cache_file(config)
        try:
            current = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        except ValueError:
            current = {}
        current[key] = profile.model_dump(mode="json")
        with contextlib.suppress(OSError):  # a read-only cache only costs a re-measure next time
            write_json(path, current)
    return profile


def _check_model(model: str | None) -> None:
    if model is not None and model != SPEECH_MODEL:
        raise InvalidArgument(f"the local voices belong to {SPEECH_MODEL!r} (got model={model!r}).")


class LocalVoice:
    """``LocalAdapter().voice``: preset and trained voices (``list``) and the nearest ones (``match``)."""

    def __init__(self, config: LocalConfig) -> None:
        self.config = config

    def _trained(self) -> builtins.list[Voice]:
        voices = []
        for model in self.config.store.trained():
            if model.modality != "speech" or model.kind != "voice-profile":
                continue
            stored = model.params.get("profile")
            profile = VoiceProfile.model_validate(stored) if isinstance(stored, dict) else None
            voices.append(
                Voice(
                    id=model.id,
                    name=model.id.split(":", 1)[1],
                    provider="local",
                    model=SPEECH_MODEL,
                    language="en-US",
                    description=model.description or "voice fitted to recordings",
                    tags=["trained", str(model.params.get("variant") or "en-us")],
                    custom=True,
                    created_at=model.created_at,
                    profile=profile,
                )
            )
        return voices

    def list(self, *, model: str | None = None, measure: bool = True) -> builtins.list[Voice]:
        """The presets (each with its measured profile; ``measure=False`` skips measuring) and the voices
        trained here (``custom=True``). Pass any ``id`` as ``voice=`` to ``LocalAdapter().audio.speak``."""
        _check_model(model)
        presets = [
            Voice(
                id=p.id,
                name=p.id.title(),
                provider="local",
                provider_id=p.settings.name,
                model=SPEECH_MODEL,
                language="en-US",
                gender=p.gender,
                description=p.description,
                tags=["preset", p.variant or "default"],
                profile=settings_profile(self.config, p.settings) if measure else None,
            )
            for p in PRESETS.values()
        ]
        return [*presets, *self._trained()]

    async def alist(self, *, model: str | None = None, measure: bool = True) -> builtins.list[Voice]:
        """The async twin of :meth:`list`."""
        return await to_thread(self.list, model=model, measure=measure)

    def profile(self, voice: str) -> VoiceProfile:
        """The measured profile of one voice (a preset id, ``en-us+<variant>`` or a trained voice)."""
        from polyface.providers.local.audio import resolve_voice

        if voice.startswith(f"{SPEECH_MODEL}:"):
            model = self.config.store.get(voice, modality="speech")
            stored = model.params.get("profile")
            if isinstance(stored, dict):
                return VoiceProfile.model_validate(stored)
            return settings_profile(self.config, trained_settings(model))
        return settings_profile(self.config, resolve_voice(self.config, voice))

    def match(
        self,
        target: VoiceProfile | AudioInput | Sequence[AudioInput],
        *,
        model: str | None = None,
        limit: int = 5,
    ) -> builtins.list[VoiceMatch]:
        """The ``limit`` local voices (presets and trained ones) closest to ``target``, best first.

        ``target`` is a :class:`VoiceProfile` or recordings (WAV paths, bytes or open files, pooled). Each
        match has ``distance``, ``score`` and an ``explanation`` (voice vs target, feature by feature).
        This picks the nearest existing voice; ``fine_tuning.voice.train(samples)`` fits a new one.
        """
        _check_model(model)
        check_limit(limit)
        measured = measure_target(target)
        pairs = [(v, v.profile) for v in self.list() if v.profile is not None]
        return rank(measured, pairs, limit)

    async def amatch(
        self,
        target: VoiceProfile | AudioInput | Sequence[AudioInput],
        *,
        model: str | None = None,
        limit: int = 5,
    ) -> builtins.list[VoiceMatch]:
        """The async twin of :meth:`match`."""
        return await to_thread(self.match, target, model=model, limit=limit)


__all__ = ["LocalVoice", "settings_profile"]
