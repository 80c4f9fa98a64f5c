"""Voices: the ones a provider offers, a voice's measured profile, and how close two voices are."""

from __future__ import annotations

import math
from datetime import datetime

from pydantic import Field

from polyface.types._base import PolyfaceModel


class VoiceProfile(PolyfaceModel):
    """Acoustic features measured from recordings of one voice; any the analysis could not measure is None.

    Used to pick the provider voice closest to a persona's recordings, and to say how close a
    trained voice came.
    """

    pitch_hz: float | None = Field(default=None, gt=0)
    """Median fundamental frequency over voiced frames."""
    pitch_range_semitones: float | None = Field(default=None, ge=0)
    """Spread of the pitch: the 10th to 90th percentile, in semitones."""
    speaking_rate: float | None = Field(default=None, ge=0)
    """Syllables per second (estimated from energy peaks when no transcript is at hand)."""
    spectral_centroid_hz: float | None = Field(default=None, gt=0)
    """Mean spectral centroid: higher sounds brighter."""
    spectral_tilt_db_per_octave: float | None = None
    """Slope of the long-term spectrum (usually negative; flatter sounds tenser, steeper breathier)."""
    loudness_dbfs: float | None = None
    voiced_fraction: float | None = Field(default=None, ge=0, le=1)
    duration_seconds: float = Field(default=0.0, ge=0)
    """How much audio the profile was measured from."""
    samples: int = Field(default=0, ge=0)
    """How many recordings it was measured from."""

    def differences(self, other: VoiceProfile) -> dict[str, float]:
        """Per feature both profiles have, the difference scaled so that 1.0 is a clearly audible step.

        Scales: pitch 4 semitones, pitch range 6 semitones, speaking rate 1 syllable/s, spectral
        centroid half an octave, spectral tilt 3 dB/octave. Positive means ``other`` is higher.
        """
        out: dict[str, float] = {}
        if self.pitch_hz is not None and other.pitch_hz is not None:
            out["pitch"] = 12 * math.log2(other.pitch_hz / self.pitch_hz) / 4.0
        if self.pitch_range_semitones is not None and other.pitch_range_semitones is not None:
            out["pitch_range"] = (other.pitch_range_semitones - self.pitch_range_semitones) / 6.0
        if self.speaking_rate is not None and other.speaking_rate is not None:
            out["speaking_rate"] = (other.speaking_rate - self.speaking_rate) / 1.0
        if self.spectral_centroid_hz is not None and other.spectral_centroid_hz is not None:
            out["spectral_centroid"] = math.log2(other.spectral_centroid_hz / self.spectral_centroid_hz) / 0.5
        if self.spectral_tilt_db_per_octave is not None and other.spectral_tilt_db_per_octave is not None:
            out["spectral_tilt"] = (
                other.spectral_tilt_db_per_octave - self.spectral_tilt_db_per_octave
            ) / 3.0
        return out

    def distance(self, other: VoiceProfile) -> float | None:
        """Root-mean-square of :meth:`differences`: 0 is identical; None when no feature is shared."""
        diffs = self.differences(other)
        if not diffs:
            return None
        return math.sqrt(sum(d * d for d in diffs.values()) / len(diffs))

    def closeness(self, other: VoiceProfile) -> float | None:
        """``1 / (1 + distance)``: 1.0 is identical, 0.5 is one audible step away on average."""
        distance = self.distance(other)
        return None if distance is None else 1.0 / (1.0 + distance)


class Voice(PolyfaceModel):
    """A voice a provider can speak with. Pass ``id`` as the ``voice`` of a speech call."""

    id: str
    name: str
    provider: str
    provider_id: str | None = None
    """The vendor's own identifier of the voice, when it differs from ``id`` (Together's voice ids,
    while its speech endpoint takes the voice's name)."""
    model: str | None = None
    """The speech model the voice belongs to, when voices are per model (Together's are)."""
    language: str | None = None
    gender: str | None = None
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    preview_url: str | None = None
    custom: bool = False
    """True for a voice made from an account's own recordings (an OpenAI custom voice, a trained one)."""
    created_at: datetime | None = None
    profile: VoiceProfile | None = None
    """Its measured acoustic profile, when one is known (used by voice matching)."""


class VoiceMatch(PolyfaceModel):
    """A candidate voice and how close it is to the target."""

    voice: Voice
    score: float = Field(ge=0.0, le=1.0)
    """Closeness, 1.0 being the same voice (see :meth:`VoiceProfile.closeness`)."""
    distance: float | None = Field(default=None, ge=0.0)
    explanation: str = ""
    """In words, what differs, e.g. "2.1 semitones lower, speaks 0.4 syllables/s faster"."""


class VoiceConsent(PolyfaceModel):
    """A recorded consent that authorises a custom voice (OpenAI requires one per custom voice)."""

    id: str
    provider: str
    name: str
    """Who consented, as labelled at upload."""
    language: str | None = None
    """BCP 47 tag of the consent phrase, e.g. ``en-US``."""
    created_at: datetime | None = None
