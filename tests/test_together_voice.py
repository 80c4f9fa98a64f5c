"""TogetherAdapter.voice: the preset voice list, and nearest-preset matching by measured acoustics."""

from __future__ import annotations

import asyncio
import io
import re
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from polyface import TogetherAdapter
from polyface.capabilities import Voices
from polyface.errors import InvalidArgument
from polyface.providers.together.voice import TogetherVoice, compare, parse_voices
from polyface.testing.fake_together import FakeTogether
from polyface.testing.fake_together.audio import VOICES
from polyface.types.voice import VoiceProfile

ORPHEUS = "canopylabs/orpheus-3b-0.1-ft"
KOKORO = "hexgrad/Kokoro-82M"


def adapter_for(fake: FakeTogether, **options: Any) -> TogetherAdapter:
    return TogetherAdapter(api_key=fake.api_key, base_url=fake.base_url, **options)


def recording(
    pitch_hz: float, syllables_per_second: float, seconds: float = 4.0, rate: int = 16_000
) -> bytes:
    """A persona 'recording': a harmonic voice-like tone at a known pitch, pulsed at a known syllable rate."""
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * np.cumsum(pitch_hz * (1 + 0.04 * np.sin(2 * np.pi * 0.7 * t))) / rate
    tone = sum(k**-1.05 * np.sin(k * phase) for k in range(1, int(5000 / pitch_hz) + 1))
    signal = 0.5 * tone / np.abs(tone).max() * np.sin(np.pi * syllables_per_second * t) ** 2
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes((np.round(signal * 32767)).astype("<i2").tobytes())
    return buffer.getvalue()


def nearest_pitch(model: str, pitch: float) -> str:
    return min(VOICES[model], key=lambda v: abs(np.log2(v.pitch_hz / pitch))).name


def speech_requests(fake: FakeTogether) -> int:
    return sum(r.path == "/v1/audio/speech" for r in fake.requests)


def test_list_groups_voices_per_model_and_is_fetched_once(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        everything = together.voice.list()
        kokoro = together.voice.list(model=KOKORO)
        assert together.voice.list(model="nobody/none") == []
        together.voice.list(refresh=True)
    assert len(everything) == sum(len(v) for v in VOICES.values())
    assert {v.name for v in kokoro} == {v.name for v in VOICES[KOKORO]}
    assert all(v.model == KOKORO and v.provider == "together" for v in kokoro)
    sonic = next(v for v in everything if v.name == "laidback woman")
    # the speech endpoint takes the name: polyface's id is the name, Together's id is kept beside it
    assert sonic.id == "laidback woman" and sonic.provider_id == "a0e99841-438c-4a64-b679-ae501e7d6091"
    assert sum(r.path == "/v1/voices" for r in fake_together.requests) == 2
    assert isinstance(together.voice, Voices)


def test_match_picks_the_preset_with_the_nearest_pitch(fake_together: FakeTogether, tmp_path: Path) -> None:
    sample = tmp_path / "persona.wav"
    sample.write_bytes(recording(121.0, 3.9))
    with adapter_for(fake_together) as together:
        matches = together.voice.match([sample], model=ORPHEUS)
        assert speech_requests(fake_together) == len(VOICES[ORPHEUS])
        again = together.voice.match(sample.read_bytes(), model=ORPHEUS, limit=1)
        assert speech_requests(fake_together) == len(VOICES[ORPHEUS]), "preset profiles are cached"
    best = matches[0]
    assert best.voice.name == nearest_pitch(ORPHEUS, 121.0) == "leo"
    assert [m.voice.name for m in again] == ["leo"]
    assert len(matches) == len(VOICES[ORPHEUS])
    distances = [m.distance for m in matches]
    assert all(d is not None for d in distances) and distances == sorted(distances)  # type: ignore[type-var]
    assert 0.7 < best.score <= 1.0 and all(0 < m.score < best.score for m in matches[1:])
    assert best.voice.profile is not None and best.voice.profile.pitch_hz == pytest.approx(118.0, rel=0.05)
    assert "not a clone" in best.explanation
    assert re.search(
        r"pitch 11[6-9] Hz vs 12[0-3] Hz \([+-]\d\.\d st\), rate \d\.\d vs \d\.\d syl/s", best.explanation
    )
    far = matches[-1]
    assert far.voice.name == "zoe" and "pitch 26" in far.explanation


@pytest.mark.parametrize("pitch", [100.0, 190.0, 255.0])
def test_match_follows_the_pitch_across_a_larger_catalog(fake_together: FakeTogether, pitch: float) -> None:
    with adapter_for(fake_together) as together:
        matches = together.voice.match(recording(pitch, 4.0), model=KOKORO, limit=3)
    assert len(matches) == 3
    assert matches[0].voice.name == nearest_pitch(KOKORO, pitch)


def test_match_takes_a_profile_and_a_shortlist(fake_together: FakeTogether) -> None:
    target = VoiceProfile(pitch_hz=240.0, speaking_rate=4.4)
    with adapter_for(fake_together) as together:
        matches = together.voice.match(target, model=KOKORO, voices=["af_bella", "am_adam"])
        with pytest.raises(InvalidArgument, match="'ghost' is not a voice of hexgrad/Kokoro-82M"):
            together.voice.match(target, model=KOKORO, voices=["ghost"])
    assert [m.voice.name for m in matches] == ["af_bella", "am_adam"]
    assert speech_requests(fake_together) == 2


def test_bad_match_inputs_are_refused_before_any_speech(fake_together: FakeTogether, tmp_path: Path) -> None:
    silence = io.BytesIO()
    with wave.open(silence, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(16_000)
        writer.writeframes(b"\x00\x00" * 16_000)
    with adapter_for(fake_together) as together:
        with pytest.raises(InvalidArgument, match=r"pass model=\.\.\. .*cartesia/sonic, hexgrad/Kokoro-82M"):
            together.voice.match(recording(150.0, 4.0))
        with pytest.raises(InvalidArgument, match="Together lists no voices for 'some/model'"):
            together.voice.match(recording(150.0, 4.0), model="some/model")
        with pytest.raises(InvalidArgument, match="no voiced speech"):
            together.voice.match(silence.getvalue(), model=KOKORO)
        with pytest.raises(InvalidArgument, match="MP3 audio; polyface measures WAV only"):
            together.voice.match(b"ID3\x04" + b"\x00" * 200, model=KOKORO)
        with pytest.raises(InvalidArgument, match="does not exist"):
            together.voice.match(tmp_path / "missing.wav", model=KOKORO)
        with pytest.raises(InvalidArgument, match="limit must be 1 or more"):
            together.voice.match(recording(150.0, 4.0), model=KOKORO, limit=0)
    assert speech_requests(fake_together) == 0


def test_async_twins(fake_together: FakeTogether) -> None:
    async def main() -> tuple[Any, Any]:
        async with adapter_for(fake_together) as together:
            voices = await together.voice.alist(model=ORPHEUS)
            matches = await together.voice.amatch(recording(250.0, 4.5), model=ORPHEUS, concurrency=2)
            return voices, matches

    voices, matches = asyncio.run(main())
    assert [v.name for v in voices] == [v.name for v in VOICES[ORPHEUS]]
    assert matches[0].voice.name == nearest_pitch(ORPHEUS, 250.0) == "zoe"
    assert speech_requests(fake_together) == len(VOICES[ORPHEUS])


def test_pure_helpers() -> None:
    voices = parse_voices(
        {"data": [{"model": "m", "voices": [{"id": "1", "name": "a"}, {"name": 3}]}, "junk"]},
        provider="together",
    )
    assert [(v.id, v.provider_id, v.model) for v in voices] == [("a", "1", "m")]
    target = VoiceProfile(pitch_hz=200.0, speaking_rate=4.0)
    near, far = (
        VoiceProfile(pitch_hz=210.0, speaking_rate=4.0),
        VoiceProfile(pitch_hz=120.0, speaking_rate=4.0),
    )
    d_near, text = compare(target, near)
    d_far, _ = compare(target, far)
    assert d_near is not None and d_far is not None and d_near < d_far
    assert text == "pitch 210 Hz vs 200 Hz (+0.8 st), rate 4.0 vs 4.0 syl/s"
    assert compare(target, VoiceProfile()) == (None, "no acoustic feature could be measured in both")
    assert "not voice cloning" in (TogetherVoice.match.__doc__ or "")
