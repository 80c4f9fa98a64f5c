"""Acoustic analysis of voice recordings: read audio inputs, decode WAV, measure a voice.

Provider-independent and offline. :func:`measure` turns one or more recordings into a
:class:`~polyface.types.voice.VoiceProfile`:

- **pitch**: median fundamental frequency over voiced frames, by normalised autocorrelation
  (40 ms frames every 10 ms, 60-500 Hz, parabolic interpolation of the peak lag; the shortest
  lag within 90 % of the best peak wins, which avoids octave-too-low errors);
- **pitch range**: 10th to 90th percentile of that pitch track, in semitones;
- **speaking rate**: syllable nuclei per second of speech, counted as peaks of the smoothed
  energy envelope that are voiced, stand out at least 2 dB from the dips around them and lie
  at least 100 ms apart (after de Jong & Wempe, 2009); pauses longer than 0.3 s are not counted
  as speaking time;
- **spectral centroid** (brightness) over voiced frames, 0-8 kHz;
- **spectral tilt**: slope of the long-term spectrum in third-octave bands from 100 Hz to
  8 kHz, in dB per octave;
- loudness (dBFS over non-silent frames) and the voiced fraction of non-silent frames.

WAV (PCM 8/16/24/32-bit, or 32-bit float) is decoded with the standard library; other
containers are recognised (:func:`sniff_format`) but not decoded: convert them to WAV first.
numpy (the ``audio`` extra) is imported inside the functions that need it.
"""

from __future__ import annotations

import io
import math
import os
import struct
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeAlias

from polyface.errors import InvalidArgument
from polyface.types.voice import VoiceProfile

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    FloatArray: TypeAlias = NDArray[np.float64]
else:
    FloatArray = Any

AudioSource: TypeAlias = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]
"""Audio to read: a file path, the file's bytes, or an open binary file."""

CONVERT_HINT = "convert it to WAV first, e.g. `ffmpeg -i input.m4a -ac 1 -ar 16000 output.wav`"

AUDIO_MIME_TYPES: dict[str, str] = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "m4a": "audio/mp4",
    "webm": "audio/webm",
    "ogg": "audio/ogg",
}

FRAME_SECONDS = 0.040
HOP_SECONDS = 0.010
PITCH_FLOOR_HZ = 60.0
PITCH_CEILING_HZ = 500.0
SILENCE_BELOW_PEAK_DB = 35.0
VOICING_THRESHOLD = 0.5
SYLLABLE_DIP_DB = 2.0
MIN_SYLLABLE_GAP_SECONDS = 0.1
PAUSE_SECONDS = 0.3
SPECTRUM_MAX_HZ = 8000.0
_BAND_CENTERS = tuple(100.0 * 2 ** (k / 3) for k in range(20))  # 100 Hz .. 8 kHz, third octaves


def _numpy() -> Any:
    """numpy, or an ImportError that says how to install it."""
    try:
        import numpy
    except ModuleNotFoundError:
        raise ImportError(
            "acoustic analysis needs numpy: pip install 'polyface[audio]' (or pip install numpy)"
        ) from None
    return numpy


# ---- reading inputs ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AudioFile:
    """An audio input read into memory: its bytes, a file name to upload it under, its format."""

    data: bytes
    filename: str
    format: str
    """``wav``, ``mp3``, ``flac``, ``m4a``, ``webm`` or ``ogg`` (from the bytes, not the name)."""

    @property
    def mime_type(self) -> str:
        return AUDIO_MIME_TYPES.get(self.format, "application/octet-stream")


def sniff_format(data: bytes) -> str | None:
    """The container of ``data`` from its first bytes, or None when it is not a known audio format."""
    head = bytes(data[:16])
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[4:8] == b"ftyp":
        return "m4a"
    if head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    return None


def _describe(source: object) -> str:
    if isinstance(source, str | os.PathLike):
        return f"audio file {os.fspath(source)!r}"
    name = getattr(source, "name", None)
    return f"audio file {name!r}" if isinstance(name, str) else "audio"


def read_bytes(source: AudioSource) -> tuple[bytes, str | None]:
    """The bytes of ``source`` and its file name when it has one. Raises :class:`InvalidArgument`
    when a path does not exist or cannot be read, or ``source`` is not audio-like at all."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source), None
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            return path.read_bytes(), path.name
        except FileNotFoundError:
            raise InvalidArgument(
                f"{_describe(source)} does not exist; pass the path of a recording, its bytes "
                "or an open file."
            ) from None
        except IsADirectoryError:
            raise InvalidArgument(f"{_describe(source)} is a folder; pass one audio file.") from None
        except OSError as exc:
            raise InvalidArgument(
                f"{_describe(source)} cannot be read ({exc.strerror or exc}); check its permissions."
            ) from None
    read = getattr(source, "read", None)
    if callable(read):
        try:
            data = read()
        except OSError as exc:
            raise InvalidArgument(f"{_describe(source)} cannot be read: {exc}") from None
        if isinstance(data, str):
            raise InvalidArgument(f"{_describe(source)} was opened in text mode; open it with 'rb'.")
        if not isinstance(data, bytes | bytearray):
            raise InvalidArgument(f"{_describe(source)}: read() returned {type(data).__name__}, not bytes.")
        name = getattr(source, "name", None)
        return bytes(data), Path(name).name if isinstance(name, str) else None
    raise InvalidArgument(
        f"cannot read audio from a {type(source).__name__}; pass a path, bytes or a file opened with 'rb'."
    )


def read_audio(source: AudioSource, *, formats: Sequence[str] | None = None) -> AudioFile:
    """Read an audio input and check it before anything is sent: it exists, is not empty, is a
    known audio format (one of ``formats`` when given) and, for WAV, holds at least one frame."""
    data, name = read_bytes(source)
    what = _describe(source)
    if not data:
        raise InvalidArgument(f"{what} is empty; record or pick a file with sound in it.")
    fmt = sniff_format(data)
    allowed = tuple(formats) if formats is not None else tuple(AUDIO_MIME_TYPES)
    if fmt is None or fmt not in allowed:
        found = f"a {fmt} file" if fmt else "not audio polyface recognises"
        raise InvalidArgument(
            f"{what} is {found}; use one of {', '.join(allowed)} "
            f"(e.g. `ffmpeg -i input -ac 1 -ar 16000 output.wav`)."
        )
    if fmt == "wav":
        _wav_params(data, what)  # raises when the header is broken or there is no sound
    filename = name or f"audio.{fmt}"
    return AudioFile(data=data, filename=filename, format=fmt)


def _wav_params(data: bytes, what: str) -> tuple[int, int, int, int, bytes]:
    """(channels, sample width, rate, frames, raw frames) of a WAV, or InvalidArgument."""
    fmt_tag = _wav_format_tag(data)
    if fmt_tag == 3:  # IEEE float: stdlib wave refuses it, read it ourselves
        return _float_wav(data, what)
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            channels, width, rate, frames = (
                reader.getnchannels(),
                reader.getsampwidth(),
                reader.getframerate(),
                reader.getnframes(),
            )
            raw = reader.readframes(frames)
    except (wave.Error, EOFError, struct.error) as exc:
        raise InvalidArgument(f"{what} is not a readable WAV file ({exc}); {CONVERT_HINT}.") from None
    frames = len(raw) // max(1, channels * width)
    if frames == 0 or rate <= 0:
        raise InvalidArgument(f"{what} holds no audio frames; record or pick a file with sound in it.")
    return channels, width, rate, frames, raw


def _wav_format_tag(data: bytes) -> int | None:
    pos = 12
    while pos + 8 <= len(data):
        chunk_id, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if chunk_id == b"fmt " and pos + 10 <= len(data):
            tag = int(struct.unpack_from("<H", data, pos + 8)[0])
            if tag == 0xFFFE and pos + 8 + 26 <= len(data):  # WAVE_FORMAT_EXTENSIBLE: the sub-format
                tag = int(struct.unpack_from("<H", data, pos + 8 + 24)[0])
            return tag
        pos += 8 + size + (size & 1)
    return None


def _float_wav(data: bytes, what: str) -> tuple[int, int, int, int, bytes]:
    pos, channels, rate, width = 12, 0, 0, 0
    while pos + 8 <= len(data):
        chunk_id, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if chunk_id == b"fmt " and body + 16 <= len(data):
            _tag, channels, rate, _byte_rate, _align, bits = struct.unpack_from("<HHIIHH", data, body)
            width = bits // 8
        elif chunk_id == b"data" and channels and width in (4, 8):
            end = body + size if 0 < size <= len(data) - body else len(data)
            raw = data[body:end]
            frames = len(raw) // (channels * width)
            if frames == 0:
                break
            return channels, -width, rate, frames, raw[: frames * channels * width]
        pos = body + size + (size & 1)
    raise InvalidArgument(f"{what} is not a readable WAV file or holds no audio; {CONVERT_HINT}.")


def audio_duration(data: bytes) -> float | None:
    """Seconds of audio in a WAV file's bytes (None for other formats or a broken header)."""
    if sniff_format(data) != "wav":
        return None
    try:
        _channels, _width, rate, frames, _raw = _wav_params(data, "audio")
    except InvalidArgument:
        return None
    return frames / rate


# ---- waveforms ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Waveform:
    """Mono samples in [-1, 1] (float64 numpy array) and their rate in Hz."""

    samples: FloatArray
    sample_rate: int

    @property
    def duration(self) -> float:
        return float(len(self.samples)) / self.sample_rate


def read_wav(source: AudioSource) -> Waveform:
    """Decode a WAV input (mixed down to mono). Other formats raise :class:`InvalidArgument` saying how to
    convert them."""
    np = _numpy()

    data, _name = read_bytes(source)
    what = _describe(source)
    if not data:
        raise InvalidArgument(f"{what} is empty; record or pick a file with sound in it.")
    fmt = sniff_format(data)
    if fmt != "wav":
        kind = f"{fmt.upper()} audio" if fmt else "not a WAV file"
        raise InvalidArgument(f"{what} is {kind}; polyface measures WAV only: {CONVERT_HINT}.")
    channels, width, rate, frames, raw = _wav_params(data, what)
    samples: FloatArray
    if width < 0:
        dtype = np.dtype("<f4") if width == -4 else np.dtype("<f8")
        samples = np.frombuffer(raw, dtype=dtype).astype(np.float64)
    elif width == 1:
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    elif width == 2:
        samples = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw[: frames * channels * 3], dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        samples = ints.astype(np.float64) / float(1 << 23)
    elif width == 4:
        samples = np.frombuffer(raw, dtype="<i4").astype(np.float64) / float(1 << 31)
    else:
        raise InvalidArgument(
            f"{what} uses {width * 8}-bit samples, which polyface cannot read; {CONVERT_HINT}."
        )
    samples = samples[: frames * channels].reshape(frames, channels).mean(axis=1)
    return Waveform(samples=samples, sample_rate=rate)


def decode_pcm(data: bytes, sample_rate: int, encoding: str = "pcm_s16le", channels: int = 1) -> Waveform:
    """Headerless samples (``pcm_s16le``, ``pcm_f32le``, ``pcm_mulaw`` or ``pcm_alaw``) as a mono waveform."""
    np = _numpy()

    if sample_rate <= 0 or channels <= 0:
        raise InvalidArgument("sample_rate and channels must be positive to decode raw PCM.")
    samples: FloatArray
    if encoding == "pcm_s16le":
        samples = np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.float64) / 32768.0
    elif encoding == "pcm_f32le":
        samples = np.frombuffer(data[: len(data) // 4 * 4], dtype="<f4").astype(np.float64)
    elif encoding == "pcm_mulaw":
        u = ~np.frombuffer(data, dtype=np.uint8).astype(np.int32) & 0xFF
        sign, exponent, mantissa = u & 0x80, (u >> 4) & 0x07, u & 0x0F
        magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
        samples = np.where(sign != 0, -magnitude, magnitude).astype(np.float64) / 32768.0
    elif encoding == "pcm_alaw":
        a = np.frombuffer(data, dtype=np.uint8).astype(np.int32) ^ 0x55
        sign, exponent, mantissa = a & 0x80, (a >> 4) & 0x07, a & 0x0F
        magnitude = np.where(
            exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0)
        )
        samples = np.where(sign != 0, magnitude, -magnitude).astype(np.float64) / 32768.0
    else:
        raise InvalidArgument(
            f"unknown PCM encoding {encoding!r}; use pcm_s16le, pcm_f32le, pcm_mulaw or pcm_alaw."
        )
    frames = len(samples) // channels
    return Waveform(
        samples=samples[: frames * channels].reshape(frames, channels).mean(axis=1), sample_rate=sample_rate
    )


# ---- analysis -----------------------------------------------------------------------------------


@dataclass
class _Analysis:
    """What one recording contributed (kept raw so that several recordings combine exactly)."""

    duration: float
    pitches: FloatArray
    peaks: int
    speaking_seconds: float
    centroids: FloatArray
    band_power: FloatArray
    band_frames: int
    energy: float
    active_samples: int
    voiced_frames: int
    active_frames: int


def _frames(samples: FloatArray, size: int, hop: int) -> FloatArray:
    np = _numpy()

    frames: FloatArray = np.lib.stride_tricks.sliding_window_view(samples, size)[::hop]
    return frames


def _pitch_track(frames: FloatArray, rate: int) -> tuple[FloatArray, FloatArray]:
    """(f0 in Hz per frame, normalised autocorrelation strength per frame); f0 is nan when no peak."""
    np = _numpy()

    n, size = frames.shape
    min_lag = max(2, int(rate / PITCH_CEILING_HZ))
    max_lag = min(size - 2, math.ceil(rate / PITCH_FLOOR_HZ))
    centered = frames - frames.mean(axis=1, keepdims=True)
    nfft = 1 << math.ceil(math.log2(2 * size))
    spectrum = np.fft.rfft(centered, nfft, axis=1)
    acf = np.fft.irfft(spectrum.real**2 + spectrum.imag**2, nfft, axis=1)[:, : max_lag + 2]
    cumulative = np.cumsum(centered**2, axis=1)
    total = cumulative[:, -1:]
    lags = np.arange(0, max_lag + 2)
    head = cumulative[:, size - 1 - lags]  # energy of x[0 : size - lag]
    tail = total - np.concatenate([np.zeros((n, 1)), cumulative[:, lags[1:] - 1]], axis=1)  # x[lag:]
    nccf = acf / np.sqrt(np.maximum(head * tail, 1e-20))
    window = nccf[:, min_lag - 1 : max_lag + 2]
    middle = window[:, 1:-1]
    is_peak = (middle > window[:, :-2]) & (middle >= window[:, 2:])
    peaks = np.where(is_peak, middle, -np.inf)
    best = peaks.max(axis=1)
    chosen = np.argmax(is_peak & (peaks >= 0.9 * best[:, None]), axis=1)
    rows = np.arange(n)
    left, centre, right = window[rows, chosen], window[rows, chosen + 1], window[rows, chosen + 2]
    denominator = left - 2 * centre + right
    shift = np.where(
        np.abs(denominator) > 1e-12, 0.5 * (left - right) / np.where(denominator == 0, 1, denominator), 0.0
    )
    lag = min_lag + chosen + np.clip(shift, -0.5, 0.5)
    f0 = np.where(np.isfinite(best), rate / lag, np.nan)
    strength = np.where(np.isfinite(best), best, 0.0)
    return f0, strength


def _syllables(
    level_db: FloatArray, voiced: FloatArray, active: FloatArray, hop_s: float
) -> tuple[int, float]:
    """(syllable nuclei, seconds of speaking time) from the frame levels."""
    np = _numpy()

    if not active.any():
        return 0, 0.0
    top = float(level_db.max())
    width = 5
    clipped = np.maximum(level_db, top - 60.0)
    smooth = np.convolve(clipped, np.ones(width) / width, mode="same")
    threshold = max(top - 25.0, float(np.median(level_db[active])) - 6.0)
    candidates = [
        i
        for i in range(1, len(smooth) - 1)
        if smooth[i] > smooth[i - 1] and smooth[i] >= smooth[i + 1] and smooth[i] > threshold and voiced[i]
    ]
    min_gap = max(1, round(MIN_SYLLABLE_GAP_SECONDS / hop_s))
    accepted: list[int] = []
    for i in candidates:
        if not accepted:
            accepted.append(i)
            continue
        last = accepted[-1]
        dip = float(smooth[last : i + 1].min())
        if (
            i - last >= min_gap
            and smooth[last] - dip >= SYLLABLE_DIP_DB
            and smooth[i] - dip >= SYLLABLE_DIP_DB
        ):
            accepted.append(i)
        elif smooth[i] > smooth[last]:
            accepted[-1] = i
    # speaking time: from the first to the last non-silent frame, less pauses longer than PAUSE_SECONDS
    idx = np.flatnonzero(active)
    span = active[idx[0] : idx[-1] + 1]
    pause_frames = 0
    run = 0
    for is_active in span:
        if is_active:
            if run * hop_s >= PAUSE_SECONDS:
                pause_frames += run
            run = 0
        else:
            run += 1
    speaking = (len(span) - pause_frames) * hop_s
    return len(accepted), speaking


def _analyse(wave_: Waveform) -> _Analysis:
    np = _numpy()

    rate = wave_.sample_rate
    samples = np.asarray(wave_.samples, dtype=np.float64)
    size = round(FRAME_SECONDS * rate)
    hop = max(1, round(HOP_SECONDS * rate))
    empty = np.zeros(0)
    nothing = _Analysis(
        wave_.duration, empty, 0, 0.0, empty, np.full(len(_BAND_CENTERS), np.nan), 0, 0.0, 0, 0, 0
    )
    if len(samples) < size or rate < 2 * PITCH_CEILING_HZ:
        return nothing
    samples = samples - samples.mean()
    frames = _frames(samples, size, hop)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    level = 20 * np.log10(rms + 1e-12)
    top = float(level.max())
    if top < -90:
        return nothing
    active = level > max(top - SILENCE_BELOW_PEAK_DB, -70.0)
    f0, strength = _pitch_track(frames, rate)
    voiced = active & (strength >= VOICING_THRESHOLD) & np.isfinite(f0)
    peaks, speaking = _syllables(level, voiced, active, hop / rate)

    # spectra of the voiced frames (all non-silent frames when none is voiced)
    chosen = frames[voiced] if voiced.any() else frames[active]
    window = np.hanning(size)
    power = np.abs(np.fft.rfft(chosen * window, axis=1)) ** 2
    freqs = np.fft.rfftfreq(size, 1.0 / rate)
    band = freqs <= min(SPECTRUM_MAX_HZ, rate / 2)
    magnitude = np.sqrt(power[:, band])
    weight = magnitude.sum(axis=1)
    centroids = (magnitude @ freqs[band])[weight > 0] / weight[weight > 0]
    mean_power = power.mean(axis=0)
    band_power = np.full(len(_BAND_CENTERS), np.nan)
    for k, centre in enumerate(_BAND_CENTERS):
        low, high = centre * 2 ** (-1 / 6), centre * 2 ** (1 / 6)
        if high > rate / 2:
            break
        inside = (freqs >= low) & (freqs < high)
        if inside.any():
            band_power[k] = float(mean_power[inside].mean())
    active_samples = frames[active]
    return _Analysis(
        duration=wave_.duration,
        pitches=f0[voiced],
        peaks=peaks,
        speaking_seconds=speaking,
        centroids=centroids,
        band_power=band_power,
        band_frames=len(chosen),
        energy=float((active_samples**2).sum()),
        active_samples=int(active_samples.size),
        voiced_frames=int(voiced.sum()),
        active_frames=int(active.sum()),
    )


def _combine(parts: Sequence[_Analysis]) -> VoiceProfile:
    np = _numpy()

    pitches = np.concatenate([p.pitches for p in parts]) if parts else np.zeros(0)
    centroids = np.concatenate([p.centroids for p in parts]) if parts else np.zeros(0)
    speaking = sum(p.speaking_seconds for p in parts)
    peaks = sum(p.peaks for p in parts)
    active_frames = sum(p.active_frames for p in parts)
    voiced_frames = sum(p.voiced_frames for p in parts)
    energy = sum(p.energy for p in parts)
    active_samples = sum(p.active_samples for p in parts)

    pitch = float(np.median(pitches)) if len(pitches) >= 3 else None
    pitch_range = None
    if len(pitches) >= 3:
        p10, p90 = np.percentile(pitches, [10, 90])
        pitch_range = float(12 * math.log2(p90 / p10)) if p10 > 0 else None
    rate = peaks / speaking if speaking >= 0.25 and voiced_frames else None

    tilt = None
    frames_total = sum(p.band_frames for p in parts)
    if frames_total:
        stacked = np.array([p.band_power * p.band_frames for p in parts])
        valid = ~np.isnan(stacked).any(axis=0)
        if valid.sum() >= 4:
            levels = 10 * np.log10(stacked[:, valid].sum(axis=0) / frames_total + 1e-20)
            octaves = np.log2(np.array(_BAND_CENTERS)[valid])
            keep = levels >= levels.max() - 60.0
            if pitch is not None:  # below the fundamental there are no harmonics, only leakage
                keep &= np.array(_BAND_CENTERS)[valid] >= 1.5 * pitch
            if keep.sum() >= 4:
                tilt = float(np.polyfit(octaves[keep], levels[keep], 1)[0])
    return VoiceProfile(
        pitch_hz=pitch,
        pitch_range_semitones=pitch_range,
        speaking_rate=rate,
        spectral_centroid_hz=float(centroids.mean()) if len(centroids) else None,
        spectral_tilt_db_per_octave=tilt,
        loudness_dbfs=float(10 * math.log10(energy / active_samples))
        if active_samples and energy > 0
        else None,
        voiced_fraction=voiced_frames / active_frames if active_frames else None,
        duration_seconds=sum(p.duration for p in parts),
        samples=len(parts),
    )


def analyze(waveform: Waveform) -> VoiceProfile:
    """The :class:`VoiceProfile` of one decoded recording."""
    return _combine([_analyse(waveform)])


def measure(sources: AudioSource | Waveform | Sequence[AudioSource | Waveform]) -> VoiceProfile:
    """Measure one voice from one or more recordings (WAV paths, bytes, open files or waveforms).

    The recordings are pooled: the pitch is the median over every voiced frame of all of them,
    the speaking rate counts syllables over their total speaking time, and so on.
    """
    if isinstance(sources, Waveform | str | os.PathLike | bytes | bytearray | memoryview) or hasattr(
        sources, "read"
    ):
        items: list[Any] = [sources]
    else:
        items = list(sources)
    if not items:
        raise InvalidArgument("no recordings to measure; pass at least one WAV file.")
    parts = [_analyse(item if isinstance(item, Waveform) else read_wav(item)) for item in items]
    return _combine(parts)


__all__ = [
    "AUDIO_MIME_TYPES",
    "AudioFile",
    "AudioSource",
    "Waveform",
    "analyze",
    "audio_duration",
    "decode_pcm",
    "measure",
    "read_audio",
    "read_bytes",
    "read_wav",
    "sniff_format",
]
