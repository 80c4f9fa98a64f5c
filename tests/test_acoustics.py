"""polyface.media.acoustics: reading audio inputs and measuring voices, on signals of known pitch and rate."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest

from polyface.errors import InvalidArgument
from polyface.media.acoustics import (
    Waveform,
    audio_duration,
    decode_pcm,
    measure,
    read_audio,
    read_wav,
    sniff_format,
)


def harmonic_speech(
    pitch_hz: float,
    syllables_per_second: float,
    *,
    seconds: float = 3.0,
    sample_rate: int = 16_000,
    rolloff: float = 1.0,
    vibrato: float = 0.0,
    noise: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """A harmonic tone (harmonics up to 5 kHz, amplitude k**-rolloff), in sin^2 syllable pulses."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    f0 = pitch_hz * (1 + vibrato * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    tone = sum(k**-rolloff * np.sin(k * phase) for k in range(1, int(5000 / pitch_hz) + 1))
    envelope = np.sin(np.pi * syllables_per_second * t) ** 2
    signal = 0.5 * tone / np.abs(tone).max() * envelope
    if noise:
        signal = signal + noise * np.random.default_rng(seed).standard_normal(len(t))
    return np.asarray(signal, dtype=np.float64)


def wav_bytes(samples: np.ndarray, sample_rate: int = 16_000, width: int = 2, channels: int = 1) -> bytes:
    scale = {1: 127, 2: 32767, 4: 2**31 - 1}[width]
    ints = np.clip(np.round(samples * scale), -scale - 1, scale)
    if width == 1:
        raw = (ints + 128).astype(np.uint8).tobytes()
    else:
        frames = np.repeat(ints[:, None], channels, axis=1).ravel()
        raw = frames.astype("<i2" if width == 2 else "<i4").tobytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels if width != 1 else 1)
        writer.setsampwidth(width)
        writer.setframerate(sample_rate)
        writer.writeframes(raw)
    return buffer.getvalue()


@pytest.mark.parametrize("pitch", [150.0, 220.0])
@pytest.mark.parametrize("sample_rate", [16_000, 44_100])
def test_pitch_of_a_harmonic_signal_is_within_3_percent(pitch: float, sample_rate: int) -> None:
    profile = measure(Waveform(harmonic_speech(pitch, 4.0, sample_rate=sample_rate), sample_rate))
    assert profile.pitch_hz == pytest.approx(pitch, rel=0.03)
    assert profile.voiced_fraction is not None and profile.voiced_fraction > 0.8
    assert profile.duration_seconds == pytest.approx(3.0) and profile.samples == 1


@pytest.mark.parametrize(("pitch", "rate"), [(150.0, 3.0), (220.0, 4.5), (110.0, 5.5)])
def test_speaking_rate_is_within_20_percent(pitch: float, rate: float) -> None:
    profile = measure(Waveform(harmonic_speech(pitch, rate, seconds=4.0), 16_000))
    assert profile.speaking_rate == pytest.approx(rate, rel=0.2)


def test_pitch_survives_noise_and_a_weak_fundamental() -> None:
    # rolloff 0.3: the upper harmonics are nearly as strong as the fundamental (octave-error bait)
    samples = harmonic_speech(180.0, 4.0, rolloff=0.3, noise=0.01)
    profile = measure(Waveform(samples, 16_000))
    assert profile.pitch_hz == pytest.approx(180.0, rel=0.03)


def test_intonation_widens_the_pitch_range_and_brightness_follows_the_spectrum() -> None:
    flat = measure(Waveform(harmonic_speech(200.0, 4.0), 16_000))
    moving = measure(Waveform(harmonic_speech(200.0, 4.0, vibrato=0.1), 16_000))
    assert flat.pitch_range_semitones is not None and flat.pitch_range_semitones < 0.3
    assert moving.pitch_range_semitones is not None and moving.pitch_range_semitones > 2.0
    dull = measure(Waveform(harmonic_speech(200.0, 4.0, rolloff=2.0), 16_000))
    bright = measure(Waveform(harmonic_speech(200.0, 4.0, rolloff=0.5), 16_000))
    assert dull.spectral_centroid_hz is not None and bright.spectral_centroid_hz is not None
    assert bright.spectral_centroid_hz > 1.5 * dull.spectral_centroid_hz
    assert dull.spectral_tilt_db_per_octave is not None and bright.spectral_tilt_db_per_octave is not None
    assert dull.spectral_tilt_db_per_octave < bright.spectral_tilt_db_per_octave - 3


def test_wav_inputs_paths_bytes_files_and_widths_measure_alike(tmp_path: Path) -> None:
    samples = harmonic_speech(150.0, 4.0)
    data = wav_bytes(samples)
    path = tmp_path / "voice.wav"
    path.write_bytes(data)
    from_path = measure(path)
    from_str = measure(str(path))
    with path.open("rb") as handle:
        from_file = measure(handle)
    from_bytes = measure(data)
    assert from_path == from_str == from_file == from_bytes
    stereo32 = measure(wav_bytes(samples, width=4, channels=2))
    assert stereo32.pitch_hz == pytest.approx(from_path.pitch_hz, rel=0.01)
    eight_bit = measure(wav_bytes(samples, width=1))
    assert eight_bit.pitch_hz == pytest.approx(150.0, rel=0.03)
    wave_ = read_wav(data)
    assert wave_.sample_rate == 16_000 and wave_.duration == pytest.approx(3.0)
    assert audio_duration(data) == pytest.approx(3.0)


def test_several_recordings_are_pooled() -> None:
    low = Waveform(harmonic_speech(120.0, 4.0), 16_000)
    high = Waveform(harmonic_speech(240.0, 4.0), 16_000)
    pooled = measure([low, high, high])
    assert pooled.samples == 3 and pooled.duration_seconds == pytest.approx(9.0)
    assert pooled.pitch_hz == pytest.approx(240.0, rel=0.03)  # the median of 1/3 at 120 Hz, 2/3 at 240 Hz
    assert pooled.pitch_range_semitones is not None and pooled.pitch_range_semitones > 11


def test_silence_measures_nothing() -> None:
    profile = measure(Waveform(np.zeros(16_000), 16_000))
    assert profile.pitch_hz is None and profile.speaking_rate is None and profile.duration_seconds == 1.0


def test_raw_pcm_decodes_in_every_encoding() -> None:
    samples = harmonic_speech(200.0, 4.0, seconds=1.0, sample_rate=24_000)
    s16 = (np.round(samples * 32767)).astype("<i2").tobytes()
    f32 = samples.astype("<f4").tobytes()
    assert np.allclose(decode_pcm(s16, 24_000).samples, samples, atol=1e-4)
    assert np.allclose(decode_pcm(f32, 24_000, "pcm_f32le").samples, samples, atol=1e-6)
    assert decode_pcm(b"\xff\x7f" * 10, 8000, "pcm_mulaw").samples.shape == (20,)
    with pytest.raises(InvalidArgument, match="unknown PCM encoding"):
        decode_pcm(s16, 24_000, "pcm_u8")


def test_formats_are_sniffed_and_non_wav_is_refused_with_a_conversion_hint(tmp_path: Path) -> None:
    assert sniff_format(b"ID3\x04\x00" + b"\x00" * 20) == "mp3"
    assert sniff_format(b"\xff\xfb\x90\x64" + b"\x00" * 20) == "mp3"
    assert sniff_format(b"fLaC\x00\x00") == "flac"
    assert sniff_format(b"\x00\x00\x00\x20ftypM4A ") == "m4a"
    assert sniff_format(b"\x1a\x45\xdf\xa3rest") == "webm"
    assert sniff_format(b"hello world") is None
    with pytest.raises(
        InvalidArgument, match=r"MP3 audio; polyface measures WAV only: convert it to WAV.*ffmpeg"
    ):
        measure(b"ID3\x04\x00" + b"\x00" * 100)
    with pytest.raises(InvalidArgument, match="not a WAV file"):
        read_wav(b"plain text, not sound")


def test_missing_empty_and_unreadable_inputs_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="does not exist"):
        read_audio(tmp_path / "nope.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(InvalidArgument, match="is empty"):
        read_audio(tmp_path / "empty.wav")
    with pytest.raises(InvalidArgument, match="is a folder"):
        read_audio(tmp_path)
    with pytest.raises(InvalidArgument, match="not audio polyface recognises"):
        read_audio(b"just some text")
    with pytest.raises(InvalidArgument, match="holds no audio frames"):
        read_audio(wav_bytes(np.zeros(0)))
    with pytest.raises(InvalidArgument, match="a ogg file; use one of wav, mp3"):
        read_audio(b"OggS" + b"\x00" * 40, formats=("wav", "mp3"))
    with pytest.raises(InvalidArgument, match="text mode"):
        read_audio(io.StringIO("RIFF"))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="no recordings"):
        measure([])
    ok = read_audio(io.BytesIO(wav_bytes(harmonic_speech(150.0, 4.0, seconds=0.5))))
    assert ok.format == "wav" and ok.filename == "audio.wav" and ok.mime_type == "audio/wav"
