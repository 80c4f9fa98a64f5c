"""OpenAI voices (presets, nearest-preset matching) and custom voices made with a recorded consent."""

from __future__ import annotations

import asyncio
import io
import math
import struct
import wave
from pathlib import Path
from typing import Any

import pytest

from polyface import OpenAIAdapter
from polyface.capabilities import FineTuneJob, FineTuning, Voices
from polyface.errors import ConsentRequired, InvalidArgument, InvalidRequest, ServerError
from polyface.media import acoustics
from polyface.providers.openai.fine_tuning.voice import join_wavs


def _adapter(fake: object, **options: Any) -> OpenAIAdapter:
    return OpenAIAdapter(api_key=fake.api_key, base_url=fake.base_url, **options)  # type: ignore[attr-defined]


def recording(pitch: float, seconds: float = 2.0, rate: int = 24000) -> bytes:
    """A voice-like test recording: harmonics at ``pitch`` in syllable pulses (4/s)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        frames = []
        for n in range(int(seconds * rate)):
            t = n / rate
            value = sum(math.sin(2 * math.pi * k * pitch * t) / k for k in range(1, 6))
            envelope = math.sin(math.pi * 4 * t) ** 2
            frames.append(struct.pack("<h", int(5000 * value * envelope)))
        writer.writeframes(b"".join(frames))
    return buffer.getvalue()


def long_recording(seconds: int) -> bytes:
    with wave.open(io.BytesIO(recording(120.0, 1.0))) as reader:
        second = reader.readframes(reader.getnframes())
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(24000)
        writer.writeframes(second * seconds)
    return buffer.getvalue()


def test_list_presets_per_model(fake_openai) -> None:
    with _adapter(fake_openai) as openai:
        assert isinstance(openai.voice, Voices)
        names = [v.id for v in openai.voice.list()]
        assert {"alloy", "marin", "cedar", "fable"} <= set(names) and len(names) == 13
        assert "marin" not in [v.id for v in openai.voice.list(model="tts-1")]
    assert fake_openai.requests == []  # OpenAI has no voice list endpoint: nothing is fetched


def test_match_picks_the_preset_nearest_in_pitch(fake_openai) -> None:
    with _adapter(fake_openai) as openai:
        low = openai.voice.match(recording(95.0), limit=3)
        high = openai.voice.match(
            recording(255.0), model="gpt-4o-mini-tts", voices=["onyx", "shimmer", "alloy"]
        )
        speech_calls = len([r for r in fake_openai.requests if r.path == "/v1/audio/speech"])
        again = openai.voice.match(recording(95.0), limit=1)  # profiles are cached: no new speech calls
        with pytest.raises(InvalidArgument, match="not a voice"):
            openai.voice.match(recording(95.0), voices=["ghost"])
    assert low[0].voice.id == "onyx" and len(low) == 3 and "not a clone" in low[0].explanation
    assert high[0].voice.id == "shimmer" and high[0].score > high[-1].score
    assert again[0].voice.id == "onyx"
    assert len([r for r in fake_openai.requests if r.path == "/v1/audio/speech"]) == speech_calls == 13


def test_train_refuses_without_consent(fake_openai, tmp_path: Path) -> None:
    sample = tmp_path / "rex.wav"
    sample.write_bytes(recording(120.0))
    with _adapter(fake_openai) as openai:
        with pytest.raises(ConsentRequired, match="consent statement"):
            openai.fine_tuning.voice.train(samples=[sample])
        with pytest.raises(ConsentRequired):
            openai.fine_tuning.voice.train(samples=[sample], consent="")
        with pytest.raises(InvalidArgument, match="does not exist"):
            openai.fine_tuning.voice.train(samples=[tmp_path / "missing.wav"], consent=recording(120.0))
        with pytest.raises(InvalidArgument, match="10 MiB"):
            openai.fine_tuning.voice.train(samples=[long_recording(240)], consent=recording(120.0))
    assert fake_openai.requests == []


def test_a_voice_sample_is_no_consent_and_a_consent_is_uploaded_once(fake_openai, tmp_path: Path) -> None:
    sample = tmp_path / "rex.wav"
    sample.write_bytes(recording(120.0))
    consent = recording(118.0, seconds=3.0)
    with _adapter(fake_openai, max_retries=0) as openai:
        with pytest.raises(ConsentRequired, match="one of the voice samples"):
            openai.fine_tuning.voice.train(samples=[sample], consent=sample)
        assert fake_openai.requests == []
        fake_openai.fail("/v1/audio/voices", status=500, times=1)
        with pytest.raises(ServerError):
            openai.fine_tuning.voice.train(samples=[sample], consent=consent, name="Rex")
        job = openai.fine_tuning.voice.train(samples=[sample], consent=consent, name="Rex")
    posts = [r.path for r in fake_openai.requests if r.method == "POST"]
    assert posts.count("/v1/audio/voice_consents") == 1, "the consent uploaded before the failure is reused"
    assert job.status == "succeeded"


def test_train_uploads_consent_then_makes_a_voice_that_speaks_like_the_sample(
    fake_openai, tmp_path: Path
) -> None:
    sample = tmp_path / "rex_1.wav"
    sample.write_bytes(recording(120.0))
    consent = tmp_path / "rex_consent.wav"
    consent.write_bytes(recording(118.0, seconds=3.0))
    with _adapter(fake_openai) as openai:
        job = openai.fine_tuning.voice.train(
            samples=[sample, recording(120.0, 1.0)], consent=consent, name="Rex"
        )
        assert isinstance(openai.fine_tuning.voice, FineTuning) and isinstance(job, FineTuneJob)
        assert job.status == "succeeded" and job.wait() is job and job.result_model == job.voice.id
        assert job.id.startswith("voice_") and job.voice.custom and job.voice.name == "Rex"
        assert job.events()[0].type == "voice.created"
        speech = openai.audio.speak(model="gpt-4o-mini-tts", text="Family first, always.", voice=job.voice)
        listed = openai.voice.list()
        consents = openai.fine_tuning.voice.consents()
        again = openai.fine_tuning.voice.get(job.id)
        second = openai.fine_tuning.voice.train(samples=sample, consent=consents[0], name="Rex 2")
    paths = [r.path for r in fake_openai.requests]
    assert paths[:2] == ["/v1/audio/voice_consents", "/v1/audio/voices"]
    posts = [r.path for r in fake_openai.requests if r.method == "POST"]
    assert posts.count("/v1/audio/voice_consents") == 1  # the second voice reused the consent by id
    voice_form = fake_openai.requests[1].body
    assert consents[0].id.encode() in voice_form and b'name="audio_sample"' in voice_form
    assert fake_openai.requests[2].json["voice"] == {"id": job.id}
    pitch = acoustics.measure(speech.audio).pitch_hz
    assert pitch is not None and abs(12 * math.log2(pitch / 120.0)) < 1.5
    assert job.id in [v.id for v in listed if v.custom]
    assert consents[0].name == "Rex" and consents[0].language == "en-US"
    assert again is job and second.voice.id != job.voice.id


def test_consents_get_delete_and_unknown_consent(fake_openai) -> None:
    with _adapter(fake_openai) as openai:
        voices = openai.fine_tuning.voice
        consent = voices.upload_consent(recording(150.0), name="Ana", language="es-ES")
        assert voices.get_consent(consent.id).language == "es-ES"
        assert voices.delete_consent(consent.id) is True
        assert voices.consents() == []
        with pytest.raises(InvalidRequest):
            voices.train(samples=recording(150.0), consent="cons_doesnotexist", name="Ana")
        with pytest.raises(InvalidArgument, match="voice_"):
            voices.get("ft-123")


def test_join_wavs_refuses_mixed_formats() -> None:
    a = ("a.wav", recording(100.0, 0.5, rate=24000), "audio/wav")
    b = ("b.wav", recording(100.0, 0.5, rate=16000), "audio/wav")
    with pytest.raises(InvalidArgument, match="16000 Hz"):
        join_wavs([a, b])
    joined = join_wavs([a, a])[1]
    with wave.open(io.BytesIO(joined)) as reader:
        assert reader.getnframes() == 24000


def test_async_train_and_match(fake_openai) -> None:
    async def main() -> tuple[str, str]:
        async with _adapter(fake_openai) as openai:
            job = await openai.fine_tuning.voice.atrain(
                samples=recording(200.0), consent=recording(198.0, seconds=3.0), name="Zoe"
            )
            matches = await openai.voice.amatch(recording(260.0), voices=["shimmer", "onyx"], concurrency=2)
            await job.async_wait()
            return job.id, matches[0].voice.id

    voice_id, best = asyncio.run(main())
    assert voice_id.startswith("voice_") and best == "shimmer"
