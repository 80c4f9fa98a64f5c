"""Media helpers shared by every provider: reading audio inputs and measuring voices.

Provider-independent and pure (no network). Heavy dependencies (numpy, the ``audio`` extra)
load inside the functions that need them, so importing this package stays cheap.

- :mod:`polyface.media.acoustics`: read audio inputs (path, bytes or open file), sniff their
  format, decode WAV, and measure a :class:`~polyface.types.voice.VoiceProfile` (pitch, pitch
  range, speaking rate, spectral centroid and tilt).
"""

from __future__ import annotations

__all__ = ["acoustics"]
