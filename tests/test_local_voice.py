"""Local voices: presets with measured profiles, matching, and fitting a voice to recordings."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from polyface import LocalAdapter
from polyface.errors import InvalidArgument
from polyface.media import acoustics
from polyface.providers.local import espeak
from polyface.providers.local.audio import PRESETS, wav_bytes
from polyface.providers.local.fine_tuning.voice import praat_pitch

# The persona's "recordings": eSpeak NG with settings that are no preset (variant m2, raised pitch,
# narrower range, slower), so the fit has to find them.
PERSONA = espeak.VoiceSettings(variant="m2", pitch=68, range=40, rate=145)
LINES = (
    "Good evening, everyone. Tonight we talk about the sea and the ships that sail on it.",
    "I have kept this lighthouse for thirty years, and I have never missed a single night.",
)


def _recordings(tmp_path: Path) -> list[Path]:
    paths = []
    for i, line in enumerate(LINES):
        samples, rate = espeak.synthesize(line, PERSONA)
        path = tmp_path / f"persona_{i}.wav"
        path.write_bytes(wav_bytes(samples, rate))
        paths.append(path)
    return paths


def _f0(*wavs: bytes | Path) -> float:
    found = praat_pitch([acoustics.read_wav(w) for w in wavs])
    assert found is not None
    return found.median_hz


def test_presets_are_listed_with_measured_profiles(local: Any) -> None:
    voices = local.voice.list()
    presets = [v for v in voices if not v.custom]
    assert [v.id for v in presets] == list(PRESETS)
    pitches = {v.id: v.profile.pitch_hz for v in presets}
    assert all(p is not None for p in pitches.values())
    assert pitches["ivy"] > 1.4 * pitches["leo"]
    assert (local.config.cache_dir / "local" / "voice-profiles.json").is_file()  # measured once, kept


def test_match_finds_the_voice_that_said_it(local: Any) -> None:
    recording = local.audio.speak(text="It is a fine day for a walk in the park.", voice="maya").audio
    matches = local.voice.match(recording, limit=3)
    assert len(matches) == 3
    assert matches[0].voice.gender == "female"
    assert [m.distance for m in matches] == sorted(m.distance for m in matches)
    with pytest.raises(InvalidArgument, match="limit"):
        local.voice.match(recording, limit=0)


def test_fitted_voice_lands_within_ten_percent_of_the_samples(local: Any, tmp_path: Path) -> None:
    samples = _recordings(tmp_path)
    target = _f0(*samples)
    job = local.fine_tuning.voice.train(
        samples=[str(p) for p in samples], name="keeper", consent="me, myself"
    )
    job.wait(timeout=120)
    assert job.status == "succeeded" and job.result_model == "espeak-ng:keeper"
    model = local.model(job.result_model)
    assert model.metrics["f0_error_pct"] < 10
    assert model.metrics["target_f0_hz"] == pytest.approx(target, rel=0.01)
    assert {"target_rate", "synth_rate"} <= set(model.metrics)
    assert sum(e.message.startswith("round ") for e in job.events()) >= 1

    # The fitted voice, used like any other, sounds at the samples' pitch (measured independently here).
    spoken = local.audio.speak(model="espeak-ng", text="Welcome aboard, and mind the stairs.", voice=model.id)
    assert _f0(spoken.audio) == pytest.approx(target, rel=0.10)
    # ... and closer to them than the plain preset it started from.
    start = local.audio.speak(
        text="Welcome aboard, and mind the stairs.", voice=f"en-us+{model.params['variant']}"
    )
    assert abs(_f0(spoken.audio) - target) <= abs(_f0(start.audio) - target)

    # Re-attach by id, find it in the catalog and in the voice list.
    again = local.fine_tuning.voice.get(job.id)
    assert again.status == "succeeded" and again.result_model == model.id
    elsewhere = LocalAdapter(data_dir=local.config.data_dir).fine_tuning.voice.get(job.id)  # from its file
    assert elsewhere.status == "succeeded" and elsewhere.result_model == model.id
    assert model.id in [m.id for m in local.models()]
    mine = [v for v in local.voice.list(measure=False) if v.custom]
    assert [v.id for v in mine] == [model.id] and mine[0].profile is not None


def _write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.astype("<i2").tobytes())
    return path


def test_bad_samples_are_refused_by_name_before_a_job_starts(local: Any, tmp_path: Path) -> None:
    good = _recordings(tmp_path)[0]
    short = _write_wav(tmp_path / "short.wav", np.full(4000, 1000, dtype=np.int16))
    silent = _write_wav(tmp_path / "silent.wav", np.zeros(32000, dtype=np.int16))
    rng = np.random.default_rng(0)
    noise = _write_wav(tmp_path / "noise.wav", (rng.standard_normal(32000) * 3000).astype(np.int16))
    (tmp_path / "notes.txt").write_text("not audio")
    for bad, words in (
        (short, r"samples\[1\] .*short\.wav.* at least 1 s"),
        (silent, r"samples\[1\] .*silent\.wav.* silent"),
        (noise, r"samples\[1\] .*noise\.wav.* no voiced speech"),
        (tmp_path / "notes.txt", r"samples\[1\] .*notes\.txt.* not a WAV"),
        (tmp_path / "missing.wav", r"samples\[1\] .*does not exist"),
    ):
        with pytest.raises(InvalidArgument, match=words):
            local.fine_tuning.voice.train(samples=[str(good), str(bad)])
    with pytest.raises(InvalidArgument, match=r"samples\[0\]"):
        local.fine_tuning.voice.train(samples=[b"garbage"])
    with pytest.raises(InvalidArgument, match="samples is empty"):
        local.fine_tuning.voice.train(samples=[])
    assert local.fine_tuning.voice.list() == []


async def test_async_training_and_listing(local: Any, tmp_path: Path) -> None:
    samples = [p.read_bytes() for p in _recordings(tmp_path)]
    job = await local.fine_tuning.voice.atrain(samples=samples, name="async-keeper")
    await job.async_wait(timeout=120)
    assert job.result_model == "espeak-ng:async-keeper"
    voices = await local.voice.alist()
    assert any(v.id == job.result_model and v.custom for v in voices)
    matches = await local.voice.amatch(samples, limit=1)
    assert matches[0].voice.id == job.result_model  # the fitted voice is the nearest to its own samples
