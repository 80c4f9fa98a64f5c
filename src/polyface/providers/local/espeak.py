"""eSpeak NG through ctypes: text in, 16-bit mono samples out (22050 Hz, resampled on request).

The library and its data come from ``espeakng-loader`` (:func:`assets.espeak_paths`). eSpeak NG keeps
its state in globals (the current voice, its parameters, the synth callback), so every call here runs
under one process-wide lock: initialise once, then set the voice and parameters and synthesise, all
while holding it. Synthesis is synchronous: the callback appends each buffer to a list.

Resampling (:func:`resample`) is band-limited FFT resampling with numpy (the spectrum is cut or
zero-padded to the new rate's Nyquist frequency), which needs no filter design and never aliases.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from polyface.errors import ConfigurationError, InvalidArgument

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

NATIVE_RATE: Final = 22050
"""What eSpeak NG synthesises at."""

RATE_RANGE: Final = (80, 450)
"""Words per minute eSpeak NG accepts (175 is its default)."""

# espeak_AUDIO_OUTPUT, espeak_PARAMETER, espeak_POSITION_TYPE and synth flags from speak_lib.h
_AUDIO_OUTPUT_SYNCHRONOUS: Final = 2
_ESPEAK_RATE: Final = 1
_ESPEAK_VOLUME: Final = 2
_ESPEAK_PITCH: Final = 3
_ESPEAK_RANGE: Final = 4
_ESPEAK_WORDGAP: Final = 7
_POS_CHARACTER: Final = 1
_ESPEAK_CHARS_UTF8: Final = 1
_ESPEAK_PHONEMES_ASCII: Final = 0
_EE_OK: Final = 0

_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

LOCK = threading.RLock()
"""Held around every use of the library (it is one global state per process)."""


@dataclass(frozen=True)
class VoiceSettings:
    """What eSpeak NG speaks with: a voice name (``en-us`` or ``en-us+<variant>``) and its parameters."""

    variant: str | None = None
    """A variant from ``espeak-ng-data/voices/!v`` (``m3``, ``f2``...), or None for the plain voice."""
    pitch: int = 50
    """Base pitch, 0-99 (50 is the voice's own)."""
    range: int = 50
    """Pitch range, 0-99 (0 is monotone)."""
    rate: int = 175
    """Words per minute, 80-450."""
    language: str = "en-us"

    @property
    def name(self) -> str:
        return f"{self.language}+{self.variant}" if self.variant else self.language

    def checked(self) -> VoiceSettings:
        """These settings, or InvalidArgument naming the parameter that is out of range."""
        for label, value, low, high in (
            ("pitch", self.pitch, 0, 99),
            ("range", self.range, 0, 99),
            ("rate", self.rate, *RATE_RANGE),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InvalidArgument(
                    f"eSpeak NG {label} must be a whole number from {low} to {high} (got {value!r})."
                )
        return self


class _Engine:
    """The loaded library (one per process, created under :data:`LOCK`)."""

    def __init__(self) -> None:
        from polyface.providers.local import assets

        library, data = assets.espeak_paths()
        try:
            lib = ctypes.CDLL(str(library))
        except OSError as exc:
            raise ConfigurationError(
                f"eSpeak NG could not be loaded from {library} ({exc}); reinstall espeakng-loader: "
                "`pip install --force-reinstall espeakng-loader`."
            ) from None
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.POINTER(ctypes.c_uint),
            ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.argtypes = []
        lib.espeak_Synchronize.restype = ctypes.c_int
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data).encode(), 0)
        if rate <= 0:
            raise ConfigurationError(
                f"eSpeak NG could not start with its data in {data}; reinstall espeakng-loader: "
                "`pip install --force-reinstall espeakng-loader`."
            )
        self.lib = lib
        self.sample_rate = int(rate)
        self._buffers: list[bytes] = []
        self._callback = _CALLBACK(self._collect)  # kept referenced: the library calls it
        lib.espeak_SetSynthCallback(self._callback)
        self._voice: str | None = None

    def _collect(self, wav: Any, count: int, _events: Any) -> int:
        if count > 0 and wav:
            self._buffers.append(ctypes.string_at(wav, count * 2))
        return 0  # 0 = go on synthesising

    def _set_voice(self, settings: VoiceSettings) -> None:
        if settings.name != self._voice:
            if self.lib.espeak_SetVoiceByName(settings.name.encode()) != _EE_OK:
                raise InvalidArgument(f"eSpeak NG has no voice {settings.name!r}.")
            self._voice = settings.name
        for parameter, value in (
            (_ESPEAK_RATE, settings.rate),
            (_ESPEAK_PITCH, settings.pitch),
            (_ESPEAK_RANGE, settings.range),
            (_ESPEAK_VOLUME, 100),
            (_ESPEAK_WORDGAP, 0),
        ):
            self.lib.espeak_SetParameter(parameter, value, 0)

    def synth(self, text: str, settings: VoiceSettings) -> bytes:
        self._set_voice(settings)
        encoded = text.encode("utf-8") + b"\0"
        buffer = ctypes.create_string_buffer(encoded)
        self._buffers = []
        status = self.lib.espeak_Synth(
            buffer, len(encoded), 0, _POS_CHARACTER, 0, _ESPEAK_CHARS_UTF8, None, None
        )
        self.lib.espeak_Synchronize()
        if status != _EE_OK:
            raise RuntimeError(f"eSpeak NG failed to synthesise (error {status}).")
        out, self._buffers = b"".join(self._buffers), []
        return out

    def phonemes(self, text: str, settings: VoiceSettings) -> str:
        self._set_voice(settings)
        buffer = ctypes.create_string_buffer(text.encode("utf-8") + b"\0")
        pointer = ctypes.c_void_p(ctypes.addressof(buffer))
        parts: list[str] = []
        while pointer.value:
            raw = self.lib.espeak_TextToPhonemes(
                ctypes.byref(pointer), _ESPEAK_CHARS_UTF8, _ESPEAK_PHONEMES_ASCII
            )
            if raw:
                parts.append(raw.decode("utf-8", "replace"))
        return " ".join(p.strip() for p in parts if p.strip())


_engine: _Engine | None = None


def _get() -> _Engine:
    global _engine
    if _engine is None:
        _engine = _Engine()
    return _engine


def synthesize(text: str, settings: VoiceSettings | None = None) -> tuple[NDArray[np.int16], int]:
    """``text`` spoken with ``settings``: (int16 mono samples, their rate in Hz, 22050)."""
    import numpy as np

    chosen = (settings or VoiceSettings()).checked()
    with LOCK:
        engine = _get()
        raw = engine.synth(text, chosen)
        rate = engine.sample_rate
    return np.frombuffer(raw, dtype="<i2").copy(), rate


def phonemes(text: str, settings: VoiceSettings | None = None) -> str:
    """eSpeak NG's phonemes for ``text`` (its ASCII mnemonics, words separated by spaces)."""
    with LOCK:
        return _get().phonemes(text, settings or VoiceSettings())


def resample(samples: NDArray[Any], rate: int, target: int) -> NDArray[np.float64]:
    """``samples`` (any numeric dtype, mono) at ``target`` Hz, as float64 on the input's scale.

    Band-limited FFT resampling: the spectrum is truncated (downsampling: everything above the new
    Nyquist frequency goes, so nothing aliases) or zero-padded (upsampling).
    """
    import numpy as np

    data = np.asarray(samples, dtype=np.float64)
    if rate == target or len(data) == 0:
        return data
    count = max(1, round(len(data) * target / rate))
    spectrum = np.fft.rfft(data)
    keep = count // 2 + 1
    if len(spectrum) >= keep:
        spectrum = spectrum[:keep]
    else:
        spectrum = np.concatenate([spectrum, np.zeros(keep - len(spectrum), dtype=spectrum.dtype)])
    out: NDArray[np.float64] = np.fft.irfft(spectrum, count) * (count / len(data))
    return out


def to_int16(samples: NDArray[Any]) -> NDArray[np.int16]:
    """Float samples on the int16 scale, rounded and clipped to int16."""
    import numpy as np

    out: NDArray[np.int16] = np.clip(np.rint(samples), -32768, 32767).astype("<i2")
    return out


def variants() -> list[str]:
    """The voice variants this eSpeak NG ships (file names in ``voices/!v``)."""
    from polyface.providers.local import assets

    folder = assets.espeak_paths()[1] / "voices" / "!v"
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


__all__ = [
    "LOCK",
    "NATIVE_RATE",
    "RATE_RANGE",
    "VoiceSettings",
    "phonemes",
    "resample",
    "synthesize",
    "to_int16",
]
