"""Nearest-preset voice matching, shared by every provider that offers preset voices.

A provider measures each of its preset voices (it says :data:`MATCH_PHRASE` once), the persona's
recordings are measured the same way (:mod:`polyface.media.acoustics`), and :func:`rank` orders the
presets by weighted acoustic distance. The best match only sounds *similar* (pitch, speaking rate,
brightness); it is not the persona's voice. Pure: no network, no provider.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Final

from polyface.errors import InvalidArgument
from polyface.types.voice import Voice, VoiceMatch, VoiceProfile

if TYPE_CHECKING:
    from polyface.capabilities import AudioInput

MATCH_PHRASE: Final = "Hello there! My name is Alex, and I love long walks on quiet evenings."
"""What each preset voice says to be measured (varied vowels, a few seconds long)."""

FEATURE_WEIGHTS: Final[Mapping[str, float]] = {
    "pitch": 2.0,
    "speaking_rate": 1.0,
    "spectral_centroid": 1.0,
    "pitch_range": 0.5,
    "spectral_tilt": 0.5,
}
"""How much each feature counts in the distance (pitch is what listeners notice first). The features are
first scaled so that 1.0 is a clearly audible step (see :meth:`VoiceProfile.differences`)."""


def compare(
    target: VoiceProfile, candidate: VoiceProfile, weights: Mapping[str, float] = FEATURE_WEIGHTS
) -> tuple[float | None, str]:
    """(weighted RMS distance, explanation) of ``candidate`` against ``target``; distance None when the two
    share no measured feature. The explanation reads "<preset> vs <target>" per feature."""
    diffs = target.differences(candidate)
    used = {name: d for name, d in diffs.items() if weights.get(name, 0.0) > 0}
    if not used:
        return None, "no acoustic feature could be measured in both"
    total = sum(weights[name] for name in used)
    distance = math.sqrt(sum(weights[name] * d * d for name, d in used.items()) / total)
    parts: builtins.list[str] = []
    if "pitch" in used:
        assert target.pitch_hz is not None and candidate.pitch_hz is not None
        semitones = 12 * math.log2(candidate.pitch_hz / target.pitch_hz)
        step = f"{semitones:+.1f}".replace("-0.0", "+0.0")
        parts.append(f"pitch {candidate.pitch_hz:.0f} Hz vs {target.pitch_hz:.0f} Hz ({step} st)")
    if "speaking_rate" in used:
        parts.append(f"rate {candidate.speaking_rate:.1f} vs {target.speaking_rate:.1f} syl/s")
    if "spectral_centroid" in used:
        parts.append(
            f"brightness {candidate.spectral_centroid_hz:.0f} Hz vs {target.spectral_centroid_hz:.0f} Hz"
        )
    if "pitch_range" in used:
        parts.append(
            f"pitch range {candidate.pitch_range_semitones:.1f} vs {target.pitch_range_semitones:.1f} st"
        )
    if "spectral_tilt" in used:
        parts.append(
            f"tilt {candidate.spectral_tilt_db_per_octave:.1f} vs "
            f"{target.spectral_tilt_db_per_octave:.1f} dB/oct"
        )
    return distance, ", ".join(parts)


def rank(
    target: VoiceProfile,
    candidates: Iterable[tuple[Voice, VoiceProfile]],
    limit: int,
    weights: Mapping[str, float] = FEATURE_WEIGHTS,
) -> builtins.list[VoiceMatch]:
    """The ``limit`` candidates closest to ``target``, best first (ties broken by voice id). Each match
    carries the preset's measured profile, ``distance``, ``score`` = 1 / (1 + distance) and an
    explanation that says it is the nearest preset, not a clone."""
    matches: builtins.list[VoiceMatch] = []
    for voice, profile in candidates:
        distance, explanation = compare(target, profile, weights)
        if distance is None:
            continue
        matches.append(
            VoiceMatch(
                voice=voice.model_copy(update={"profile": profile}),
                score=1.0 / (1.0 + distance),
                distance=distance,
                explanation=f"nearest preset, not a clone: {explanation}",
            )
        )
    matches.sort(key=lambda m: (m.distance if m.distance is not None else math.inf, m.voice.id))
    return matches[:limit]


def check_target(profile: VoiceProfile) -> VoiceProfile:
    """``profile`` if it has something to match on, else InvalidArgument (no voiced speech found)."""
    if profile.pitch_hz is None and profile.speaking_rate is None:
        raise InvalidArgument(
            "no voiced speech was found in the samples (silence or noise?); record a few seconds of speech."
        )
    return profile


def measure_target(target: VoiceProfile | AudioInput | Sequence[AudioInput]) -> VoiceProfile:
    """The profile to match: ``target`` itself, or the pooled measurement of the recordings it names."""
    if isinstance(target, VoiceProfile):
        return check_target(target)
    from polyface.media import acoustics

    return check_target(acoustics.measure(target))


def check_limit(limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidArgument(f"limit must be 1 or more (got {limit}).")


__all__ = [
    "FEATURE_WEIGHTS",
    "MATCH_PHRASE",
    "check_limit",
    "check_target",
    "compare",
    "measure_target",
    "rank",
]
