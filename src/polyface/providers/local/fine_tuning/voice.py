"""Fitting an eSpeak NG voice to a persona's recordings: variant, pitch, range and rate.

``LocalAdapter().fine_tuning.voice.train(samples=[...])`` measures the recordings (median and mean F0
with Praat's pitch tracker through ``praat-parselmouth``; speaking rate, pitch range and brightness with
:mod:`polyface.media.acoustics`), picks the eSpeak NG variant that sounds nearest (pitch, brightness,
pitch range, spectral tilt: the parameters it cannot change much), then solves eSpeak's pitch (0-99),
range (0-99) and rate (words per minute) in rounds: synthesise, measure, adjust (a secant step on
log F0 for pitch, a ratio for rate and range). The best round wins. The result is a speech model
``espeak-ng:<name>`` usable as ``voice=`` and listed by ``LocalAdapter().voice.list()``.

This is a parametric fit, not a neural clone: it matches pitch, rate and the nearest timbre.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final

from polyface.errors import InvalidArgument
from polyface.media.voice_match import compare
from polyface.providers.local import espeak
from polyface.providers.local.audio import SPEECH_MODEL
from polyface.providers.local.jobs import LocalFineTuneJob, LocalFineTuningBase, TrainingContext
from polyface.providers.local.store import LocalModel, check_name
from polyface.types.voice import VoiceProfile

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from polyface.media.acoustics import Waveform
    from polyface.providers.local.config import LocalConfig

VARIANTS: Final = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", None)
"""The eSpeak NG variants a fitted voice may build on (None is the plain en-us voice)."""
CALIBRATION_TEXT: Final = (
    "Hello there! My name is Alex, and I love long walks on quiet evenings. "
    "Every morning I read the news and drink a cup of tea by the window."
)
MAX_ROUNDS: Final = 6
F0_TOLERANCE: Final = 0.02
RATE_TOLERANCE: Final = 0.05
MIN_SECONDS: Final = 1.0
MIN_VOICED_SECONDS: Final = 0.3
SILENT_DBFS: Final = -50.0
LOG_F0_PER_STEP: Final = 0.0078
"""About how much ln(F0) moves per unit of eSpeak's pitch parameter (the first step's guess)."""
_TIMBRE_WEIGHTS: Final = {"pitch": 2.0, "spectral_centroid": 1.0, "pitch_range": 0.5, "spectral_tilt": 0.5}


@dataclass(frozen=True)
class Pitch:
    """F0 measured with Praat (parselmouth): median and mean over voiced frames, and how long was voiced."""

    median_hz: float
    mean_hz: float
    voiced_seconds: float


def praat_pitch(waveforms: Sequence[Waveform]) -> Pitch | None:
    """Pooled F0 of ``waveforms`` by Praat's autocorrelation tracker (60-500 Hz); None if nothing voiced."""
    import numpy as np
    import parselmouth  # type: ignore[import-not-found, unused-ignore]

    voiced: list[NDArray[np.float64]] = []
    for wave in waveforms:
        sound = parselmouth.Sound(
            np.asarray(wave.samples, dtype=np.float64), sampling_frequency=wave.sample_rate
        )
        track = sound.to_pitch(time_step=0.01, pitch_floor=60.0, pitch_ceiling=500.0)
        f0 = np.asarray(track.selected_array["frequency"], dtype=np.float64)
        voiced.append(f0[f0 > 0])
    pooled = np.concatenate(voiced) if voiced else np.zeros(0)
    if len(pooled) < 3:
        return None
    return Pitch(float(np.median(pooled)), float(np.mean(pooled)), len(pooled) * 0.01)


def _read(sample: Any, index: int) -> Waveform:
    from polyface.media import acoustics

    label = f"samples[{index}]" + (f" ({sample})" if isinstance(sample, str) else "")
    try:
        wave = acoustics.read_wav(sample)
    except InvalidArgument as exc:
        raise InvalidArgument(f"{label}: {exc}") from None
    if wave.duration < MIN_SECONDS:
        raise InvalidArgument(
            f"{label} is {wave.duration:.2f} s long; each sample needs at least {MIN_SECONDS:.0f} s "
            "of speech."
        )
    import numpy as np

    rms = float(np.sqrt(np.mean(np.square(wave.samples))))
    if rms <= 0 or 20 * math.log10(rms) < SILENT_DBFS:
        raise InvalidArgument(f"{label} is silent (or nearly); record the persona speaking.")
    found = praat_pitch([wave])
    if found is None or found.voiced_seconds < MIN_VOICED_SECONDS:
        raise InvalidArgument(
            f"{label} holds no voiced speech (noise or whisper?); record the persona speaking."
        )
    return wave


def _measure_synth(settings: espeak.VoiceSettings) -> tuple[Pitch, VoiceProfile]:
    from polyface.media import acoustics

    samples, rate = espeak.synthesize(CALIBRATION_TEXT, settings)
    wave = acoustics.Waveform(samples / 32768.0, rate)
    pitch = praat_pitch([wave])
    if pitch is None:
        raise RuntimeError(f"eSpeak NG's {settings.name} made no voiced speech to measure.")
    return pitch, acoustics.analyze(wave)


def _clip(value: float, low: int, high: int) -> int:
    return int(min(high, max(low, round(value))))


class LocalVoiceTraining(LocalFineTuningBase):
    """``LocalAdapter().fine_tuning.voice``: fit an eSpeak NG voice to recordings of the persona."""

    modality: ClassVar = "voice"

    def train(
        self,
        samples: Sequence[Any] | str | bytes | None = None,
        *,
        name: str | None = None,
        budget_usd: float | None = None,
        consent: str | None = None,
        **options: Any,
    ) -> LocalFineTuneJob:
        """Fit a voice to ``samples`` (WAV paths, bytes or open files; at least 1 s of speech each).

        Bad samples (unreadable, shorter than 1 s, silent, no voiced speech) are refused now, naming the
        sample. Returns a job at once; its events report each round (synthesised F0 and rate against the
        target) and the model ``espeak-ng:<name>`` has metrics ``target_f0_hz``, ``synth_f0_hz``,
        ``f0_error_pct``, ``target_rate``, ``synth_rate``, ``rate_error_pct``. ``consent`` (a note of who
        agreed to the voice being made) is kept with the model; nothing leaves this machine.
        """
        from polyface.media import acoustics

        if options:
            raise InvalidArgument(
                f"local voice training does not take {', '.join(repr(k) for k in sorted(options))}; it takes "
                "samples, name, budget_usd and consent."
            )
        if samples is None:
            raise InvalidArgument("samples is required: a list of WAV recordings of the persona speaking.")
        items = (
            [samples]
            if isinstance(samples, str | bytes | bytearray) or hasattr(samples, "read")
            else list(samples)
        )
        if not items:
            raise InvalidArgument(
                "samples is empty; pass at least one WAV recording of the persona speaking."
            )
        waves = [_read(item, i) for i, item in enumerate(items)]
        if consent is not None and not isinstance(consent, str):
            raise InvalidArgument(
                "consent must be a note (a string) saying who agreed to this voice being made."
            )
        model_name = check_name(name) if name is not None else "voice"
        pitch = praat_pitch(waves)
        assert pitch is not None  # every sample has voiced speech
        profile = acoustics.measure(waves)
        config = self.config

        def trainer(ctx: TrainingContext) -> LocalModel:
            return _fit(config, ctx, pitch, profile, model_name, consent, len(waves))

        return self._start(
            base_model=SPEECH_MODEL,
            trainer=trainer,
            training_file=f"{len(waves)} recordings, {profile.duration_seconds:.1f} s",
            budget_usd=budget_usd,
            name=model_name,
        )


def _choose_variant(config: LocalConfig, target: VoiceProfile) -> tuple[str | None, VoiceProfile]:
    from polyface.providers.local.voice import settings_profile

    best: tuple[float, str | None, VoiceProfile] | None = None
    for variant in VARIANTS:
        candidate = settings_profile(config, espeak.VoiceSettings(variant=variant))
        distance, _ = compare(target, candidate, _TIMBRE_WEIGHTS)
        if distance is not None and (best is None or distance < best[0]):
            best = (distance, variant, candidate)
    if best is None:
        return None, target
    return best[1], best[2]


def _fit(
    config: LocalConfig,
    ctx: TrainingContext,
    target: Pitch,
    profile: VoiceProfile,
    name: str,
    consent: str | None,
    count: int,
) -> LocalModel:
    target_rate = profile.speaking_rate
    ctx.event(
        f"samples: F0 median {target.median_hz:.1f} Hz (mean {target.mean_hz:.1f}), "
        + (f"{target_rate:.2f} syllables/s" if target_rate else "speaking rate not measurable"),
        step=0,
        total_steps=MAX_ROUNDS + 1,
        target_f0_hz=target.median_hz,
    )
    variant, _nearest = _choose_variant(config, profile)
    ctx.event(f"nearest eSpeak NG variant: {variant or 'en-us'}", step=1, total_steps=MAX_ROUNDS + 1)
    ctx.check_cancelled()
    settings = espeak.VoiceSettings(variant=variant)
    history: list[tuple[int, float]] = []  # (pitch parameter, ln F0 measured)
    best: tuple[float, espeak.VoiceSettings, Pitch, VoiceProfile] | None = None
    rounds = 0
    for rounds in range(1, MAX_ROUNDS + 1):
        measured, synth = _measure_synth(settings)
        f0_error = measured.median_hz / target.median_hz - 1
        rate_error = (synth.speaking_rate / target_rate - 1) if target_rate and synth.speaking_rate else 0.0
        score = abs(f0_error) + 0.25 * abs(rate_error)
        if best is None or score < best[0]:
            best = (score, settings, measured, synth)
        ctx.event(
            f"round {rounds}: pitch {settings.pitch}, range {settings.range}, rate {settings.rate} wpm -> "
            f"F0 {measured.median_hz:.1f} Hz ({100 * f0_error:+.1f}%)"
            + (
                f", {synth.speaking_rate:.2f} syl/s ({100 * rate_error:+.1f}%)" if synth.speaking_rate else ""
            ),
            step=rounds + 1,
            total_steps=MAX_ROUNDS + 1,
            loss=abs(f0_error),
            synth_f0_hz=measured.median_hz,
            f0_error_pct=100 * f0_error,
        )
        ctx.check_cancelled()
        if abs(f0_error) <= F0_TOLERANCE and abs(rate_error) <= RATE_TOLERANCE:
            break
        history.append((settings.pitch, math.log(measured.median_hz)))
        slope = LOG_F0_PER_STEP
        if len(history) >= 2 and history[-1][0] != history[-2][0]:
            secant = (history[-1][1] - history[-2][1]) / (history[-1][0] - history[-2][0])
            if secant > 1e-4:
                slope = secant
        pitch = _clip(settings.pitch + math.log(target.median_hz / measured.median_hz) / slope, 0, 99)
        rate = settings.rate
        if target_rate and synth.speaking_rate:
            rate = _clip(settings.rate * target_rate / synth.speaking_rate, *espeak.RATE_RANGE)
        spread = settings.range
        if profile.pitch_range_semitones and synth.pitch_range_semitones:
            ratio = profile.pitch_range_semitones / synth.pitch_range_semitones
            spread = _clip(settings.range * (1 + 0.5 * (ratio - 1)), 0, 99)
        settings = espeak.VoiceSettings(variant=variant, pitch=pitch, range=spread, rate=rate)
    assert best is not None
    _score, chosen, measured, synth = best
    metrics = {
        "target_f0_hz": target.median_hz,
        "target_f0_mean_hz": target.mean_hz,
        "synth_f0_hz": measured.median_hz,
        "synth_f0_mean_hz": measured.mean_hz,
        "f0_error_pct": 100 * abs(measured.median_hz / target.median_hz - 1),
        "rounds": float(rounds),
    }
    if target_rate and synth.speaking_rate:
        metrics.update(
            target_rate=target_rate,
            synth_rate=synth.speaking_rate,
            rate_error_pct=100 * abs(synth.speaking_rate / target_rate - 1),
        )
    return LocalModel(
        id=f"{SPEECH_MODEL}:{name}",
        modality="speech",
        kind="voice-profile",
        base_model=SPEECH_MODEL,
        description=f"eSpeak NG voice fitted to {count} recording(s) ({chosen.name}, pitch {chosen.pitch})",
        metrics=metrics,
        params={
            "variant": chosen.variant,
            "pitch": chosen.pitch,
            "range": chosen.range,
            "rate": chosen.rate,
            "profile": synth.model_dump(mode="json"),
            "target_profile": profile.model_dump(mode="json"),
            "consent": consent,
            "samples": count,
        },
    )


__all__: builtins.list[str] = ["LocalVoiceTraining", "praat_pitch"]
