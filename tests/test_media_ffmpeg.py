"""polyface.media.ffmpeg: probing, frame extraction and MP4 encoding with imageio-ffmpeg's ffmpeg."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest

from polyface.errors import InvalidArgument, PolyfaceError
from polyface.media.ffmpeg import encode_mp4, extract_frames, mp4_track_durations, parse_probe, probe, run


def tone_wav(seconds: float, sample_rate: int = 22050, channels: int = 1) -> bytes:
    """A 16-bit WAV holding a 220 Hz tone."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    samples = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        writer.writeframes(np.repeat(samples, channels).tobytes())
    return buffer.getvalue()


def grey_frames(count: int, width: int, height: int) -> list[np.ndarray]:
    """Frames of rising grey levels 10, 14, 18... (so decoded frames can be told apart)."""
    return [np.full((height, width, 3), 10 + 4 * i, dtype=np.uint8) for i in range(count)]


def test_encode_mp4_gives_h264_and_aac_of_matching_duration(tmp_path: Path) -> None:
    seconds, fps = 2.0, 25
    out = encode_mp4(
        grey_frames(int(seconds * fps), 160, 120), tmp_path / "clip.mp4", width=160, height=120, fps=fps,
        audio=tone_wav(seconds),
    )  # fmt: skip
    info = probe(out)
    assert info.video is not None and info.audio is not None
    assert (info.video.codec, info.video.pix_fmt) == ("h264", "yuv420p")
    assert (info.video.width, info.video.height, info.video.fps) == (160, 120, 25.0)
    assert info.audio.codec == "aac" and info.audio.sample_rate == 22050 and info.audio.channels == 1
    assert info.video.duration is not None and info.audio.duration is not None
    assert abs(info.video.duration - seconds) < 0.05
    assert abs(info.audio.duration - seconds) < 0.1
    assert info.duration is not None and abs(info.duration - seconds) < 0.1
    # +faststart: the index (moov) comes before the media data (mdat)
    data = out.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")
    assert set(mp4_track_durations(data)) == {0, 1}


def test_extract_frames_round_trips_pixels_and_resamples(tmp_path: Path) -> None:
    frames = grey_frames(50, 96, 64)
    path = encode_mp4(frames, tmp_path / "grey.mp4", width=96, height=64, fps=25)
    decoded = extract_frames(path)
    assert len(decoded) == 50 and decoded[0].shape == (64, 96, 3) and decoded[0].dtype == np.uint8
    levels = [float(f.mean()) for f in decoded]
    assert max(abs(a - float(b.mean())) for a, b in zip(levels, frames, strict=True)) < 3.0
    fewer = extract_frames(path, fps=5, size=(48, 32), max_frames=6)
    assert len(fewer) == 6 and fewer[0].shape == (32, 48, 3)
    assert float(fewer[-1].mean()) > float(fewer[0].mean()) + 20  # later frames are brighter


def test_a_rotated_phone_clip_reads_upright(tmp_path: Path) -> None:
    flat = encode_mp4(grey_frames(5, 96, 64), tmp_path / "flat.mp4", width=96, height=64, fps=10)
    turned = tmp_path / "turned.mp4"
    run(["-display_rotation", "90", "-i", str(flat), "-c", "copy", str(turned)], what="tagging a rotation")
    info = probe(turned)
    assert info.video is not None and (info.video.width, info.video.height) == (64, 96)
    assert extract_frames(turned, max_frames=1)[0].shape == (96, 64, 3)


def test_extract_frames_from_bytes(tmp_path: Path) -> None:
    path = encode_mp4(grey_frames(10, 64, 64), tmp_path / "g.mp4", width=64, height=64, fps=10)
    assert len(extract_frames(path.read_bytes())) == 10


def test_encode_refuses_odd_sizes_and_wrong_frames(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="even width and height"):
        encode_mp4(grey_frames(2, 33, 32), tmp_path / "odd.mp4", width=33, height=32)
    with pytest.raises(InvalidArgument, match=r"frame 1 has shape"):
        encode_mp4([np.zeros((32, 32, 3), np.uint8), np.zeros((16, 32, 3), np.uint8)], tmp_path / "x.mp4",
                   width=32, height=32)  # fmt: skip
    assert not list(tmp_path.iterdir())  # nothing half-written is left behind


def test_ffmpeg_failure_carries_ffmpeg_words(tmp_path: Path) -> None:
    with pytest.raises(PolyfaceError, match=r"ffmpeg failed while encoding the MP4:.*(Invalid data|Error)"):
        encode_mp4(
            grey_frames(5, 32, 32), tmp_path / "bad.mp4", width=32, height=32, audio=b"not a wav at all"
        )
    assert not (tmp_path / "bad.mp4").exists()


def test_probe_and_extract_refuse_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="does not exist"):
        probe(tmp_path / "missing.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("hello, I am not a video")
    with pytest.raises(InvalidArgument, match="not a media file"):
        probe(text)
    wav = tmp_path / "tone.wav"
    wav.write_bytes(tone_wav(0.5))
    info = probe(wav)
    assert info.video is None and info.audio is not None and info.audio.codec == "pcm_s16le"
    with pytest.raises(InvalidArgument, match="no video stream"):
        extract_frames(wav)


def test_parse_probe_reads_ffmpeg_text() -> None:
    text = """Input #0, matroska,webm, from 'clip.webm':
  Duration: 00:01:02.50, start: 0.000000, bitrate: 87 kb/s
  Stream #0:0: Video: vp9 (Profile 0), yuv420p(tv, progressive), 640x360, SAR 1:1 DAR 16:9, 29.97 fps, 29.97 tbr, 1k tbn (default)
  Stream #0:1(eng): Audio: opus, 48000 Hz, stereo, fltp (default)
"""  # noqa: E501
    info = parse_probe(text)
    assert info.format == "matroska,webm" and info.duration == pytest.approx(62.5) and info.bitrate_kbps == 87
    assert info.video is not None and (info.video.codec, info.video.width, info.video.height) == (
        "vp9",
        640,
        360,
    )
    assert info.video.fps == pytest.approx(29.97) and info.video.pix_fmt == "yuv420p"
    assert info.audio is not None and (info.audio.codec, info.audio.sample_rate, info.audio.channels) == (
        "opus", 48000, 2,
    )  # fmt: skip
