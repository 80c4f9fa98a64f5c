"""OpenAI speech, transcription and translation against the fake OpenAI server (spec-checked)."""

from __future__ import annotations

import asyncio
import io
import math
import struct
import wave
from pathlib import Path

import pytest

from polyface import OpenAIAdapter
from polyface.capabilities import Speech, Transcription
from polyface.errors import InvalidArgument, ProviderUnavailable
from polyface.media import acoustics
from polyface.providers.openai.audio import build_transcription_form, speech_cost, voice_field
from polyface.types.models import Pricing
from polyface.types.usage import Usage
from polyface.types.voice import Voice


def _adapter(fake: object, **kw: object) -> OpenAIAdapter:
    return OpenAIAdapter(api_key=fake.api_key, base_url=fake.base_url, **kw)  # type: ignore[attr-defined]


def _calls(fake: object, path: str) -> list:
    return [r for r in fake.requests if r.path == path]  # type: ignore[attr-defined]


def tone(seconds: float = 2.0, pitch: float = 150.0, rate: int = 16000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        samples = (
            int(
                9000
                * math.sin(2 * math.pi * pitch * n / rate)
                * (0.6 + 0.4 * math.sin(2 * math.pi * 4 * n / rate))
            )
            for n in range(int(seconds * rate))
        )
        writer.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return buffer.getvalue()


def test_speak_presets_sound_different_and_cost_per_character(fake_openai, tmp_path: Path) -> None:
    prices = {
        "tts-1": Pricing(per_million_characters=15.0),
        "gpt-4o-mini-tts": Pricing(per_audio_second=0.00025),
    }
    with _adapter(fake_openai, pricing=prices) as openai:
        assert isinstance(openai.audio, Speech) and isinstance(openai.audio, Transcription)
        low = openai.audio.speak(model="tts-1", text="Family comes first, always.", voice="onyx")
        high = openai.audio.speak(
            model="gpt-4o-mini-tts",
            text="Family comes first.",
            voice="shimmer",
            instructions="warm and slow",
            speed=1.2,
        )
    body = _calls(fake_openai, "/v1/audio/speech")[1].json
    assert (
        body["voice"] == "shimmer"
        and body["instructions"] == "warm and slow"
        and body["response_format"] == "wav"
    )
    assert (
        low.format == "wav"
        and low.sample_rate == 24000
        and low.duration_seconds
        and low.duration_seconds > 0.5
    )
    pitch_low, pitch_high = acoustics.measure(low.audio).pitch_hz, acoustics.measure(high.audio).pitch_hz
    assert pitch_low is not None and pitch_high is not None and pitch_high > 2 * pitch_low
    assert low.usage.characters == len("Family comes first, always.")
    assert low.cost == pytest.approx(len("Family comes first, always.") * 15.0 / 1e6)
    assert high.duration_seconds and high.usage.audio_seconds == pytest.approx(high.duration_seconds)
    assert high.cost == pytest.approx(high.duration_seconds * 0.00025)  # per second (the shipped table)
    low.save(tmp_path / "line.wav")
    assert (tmp_path / "line.wav").read_bytes()[:4] == b"RIFF"


def test_pcm_format_and_voice_checks(fake_openai) -> None:
    with _adapter(fake_openai) as openai:
        pcm = openai.audio.speak(model="gpt-4o-mini-tts", text="Hello there.", voice="marin", format="pcm")
        assert pcm.encoding == "pcm_s16le" and pcm.sample_rate == 24000
        assert pcm.duration_seconds == pytest.approx(len(pcm.audio) / 48000)
        with pytest.raises(InvalidArgument, match="does not speak 'marin'"):
            openai.audio.speak(model="tts-1", text="x", voice="marin")
        with pytest.raises(InvalidArgument, match="not an OpenAI voice"):
            openai.audio.speak(model="tts-1", text="x", voice="friendly sidekick")
        with pytest.raises(InvalidArgument, match="instructions"):
            openai.audio.speak(model="tts-1-hd", text="x", voice="alloy", instructions="calm")
        with pytest.raises(InvalidArgument, match="speed"):
            openai.audio.speak(model="tts-1", text="x", voice="alloy", speed=5)
        with pytest.raises(InvalidArgument, match="4096"):
            openai.audio.speak(model="tts-1", text="x" * 4097, voice="alloy")
        with pytest.raises(InvalidArgument, match="format"):
            openai.audio.speak(model="tts-1", text="x", voice="alloy", format="raw")  # type: ignore[arg-type]
    assert len(_calls(fake_openai, "/v1/audio/speech")) == 1
    assert voice_field("gpt-4o-mini-tts", "voice_abc") == {"id": "voice_abc"}
    assert voice_field("gpt-4o-mini-tts", Voice(id="voice_x", name="Rex", provider="openai")) == {
        "id": "voice_x"
    }
    assert voice_field("gpt-4o-mini-tts", {"id": "voice_y"}) == {"id": "voice_y"}


def test_stream_sse_yields_audio_then_usage(fake_openai) -> None:
    with _adapter(
        fake_openai, pricing={"gpt-4o-mini-tts": Pricing(input_per_mtok=0.6, output_per_mtok=12.0)}
    ) as openai:
        stream = openai.audio.stream(
            model="gpt-4o-mini-tts", text="Nothing matters more than family.", voice="coral"
        )
        chunks = list(stream)
        whole = openai.audio.speak(
            model="gpt-4o-mini-tts", text="Nothing matters more than family.", voice="coral", format="pcm"
        )
    assert _calls(fake_openai, "/v1/audio/speech")[0].json["stream_format"] == "sse"
    assert len(chunks) > 2 and all(c.format == "pcm" for c in chunks)
    final = chunks[-1]
    assert final.final and final.usage is not None and final.usage.output_tokens > 0
    assert final.cost == pytest.approx(
        (final.usage.input_tokens * 0.6 + final.usage.output_tokens * 12.0) / 1e6
    )
    assert b"".join(c.audio for c in chunks) == whole.audio
    assert final.usage.audio_seconds == pytest.approx(len(whole.audio) / 48000)


def test_stream_raw_audio_for_tts1_and_dropped_sse(fake_openai) -> None:
    with _adapter(fake_openai) as openai:
        response = openai.audio.stream(
            model="tts-1", text="Quick words.", voice="alloy", format="wav"
        ).response()
        assert response.audio[:4] == b"RIFF" and response.duration_seconds and response.duration_seconds > 0
        assert _calls(fake_openai, "/v1/audio/speech")[0].json["stream_format"] == "audio"
        with pytest.raises(InvalidArgument, match="stream_format='audio'"):
            openai.audio.stream(model="tts-1", text="x", voice="alloy", stream_format="sse")
        fake_openai.drop_stream(after_chunks=1)
        with pytest.raises(ProviderUnavailable):
            list(
                openai.audio.stream(
                    model="gpt-4o-mini-tts", text="A longer sentence to speak now.", voice="ash"
                )
            )


def test_transcribe_whisper_verbose_json_segments_and_words(fake_openai, tmp_path: Path) -> None:
    path = tmp_path / "line.wav"
    path.write_bytes(tone(4.0))
    with _adapter(fake_openai, pricing={"whisper-1": Pricing(per_audio_second=0.0001)}) as openai:
        result = openai.audio.transcribe(path, model="whisper-1", timestamps="word", language="en")
        plain = openai.audio.transcribe(path.read_bytes(), model="whisper-1", timestamps=None)
    first = _calls(fake_openai, "/v1/audio/transcriptions")[0]
    assert first.body.count(b'name="timestamp_granularities[]"') == 2 and b"verbose_json" in first.body
    assert result.duration == pytest.approx(4.0) and result.language == "english"
    assert result.segments and result.words and result.words[-1].end <= 4.0
    assert result.text.startswith("the quick brown fox")
    assert result.usage.audio_seconds == pytest.approx(4.0) and result.cost == pytest.approx(0.0004)
    assert plain.segments == [] and plain.text == result.text


def test_gpt_transcribe_json_tokens_and_diarize(fake_openai, tmp_path: Path) -> None:
    audio = tone(3.0)
    with _adapter(fake_openai) as openai:
        text_only = openai.audio.transcribe(audio, model="gpt-4o-transcribe")
        assert text_only.usage.input_tokens > 0 and text_only.segments == []
        with pytest.raises(InvalidArgument, match="whisper-1"):
            openai.audio.transcribe(audio, model="gpt-4o-transcribe", timestamps="segment")
        with pytest.raises(InvalidArgument, match="gpt-4o-transcribe-diarize"):
            openai.audio.transcribe(audio, model="whisper-1", diarize=True)
        diarized = openai.audio.transcribe(audio, model="gpt-4o-transcribe-diarize", diarize=True)
    assert diarized.speakers == ["A", "B"] if len(diarized.segments) > 1 else diarized.speakers == ["A"]
    assert diarized.segments[0].type == "transcript.text.segment"


def test_translate_and_bad_audio(fake_openai, tmp_path: Path) -> None:
    with _adapter(fake_openai) as openai:
        result = openai.audio.translate(tone(2.0), model="whisper-1")
        assert result.task == "translate" and result.text.startswith("hello this is")
        assert result.segments
        with pytest.raises(InvalidArgument, match="English only"):
            openai.audio.translate(tone(1.0), language="de")
        with pytest.raises(InvalidArgument, match="segment only"):
            openai.audio.translate(tone(1.0), timestamps="word")
        with pytest.raises(InvalidArgument):
            openai.audio.transcribe(b"not audio at all", model="whisper-1")
        with pytest.raises(InvalidArgument, match="download"):
            openai.audio.transcribe("https://example.com/a.wav", model="whisper-1")
    assert len(_calls(fake_openai, "/v1/audio/translations")) == 1


def test_async_twins(fake_openai) -> None:
    async def main() -> tuple[int, str, int]:
        async with _adapter(fake_openai) as openai:
            speech = await openai.audio.aspeak(model="tts-1", text="Hi there.", voice="nova")
            text = await openai.audio.atranscribe(speech.audio, model="whisper-1")
            translated = await openai.audio.atranslate(speech.audio)
            chunks = [
                c async for c in openai.audio.astream(model="gpt-4o-mini-tts", text="Hi.", voice="sage")
            ]
            return len(speech.audio), text.text + translated.text, len(chunks)

    size, text, chunks = asyncio.run(main())
    assert size > 1000 and "the" in text and chunks >= 2


def test_pure_helpers() -> None:
    form = build_transcription_form(
        model="whisper-1",
        task="transcribe",
        language=None,
        timestamps="auto",
        diarize=False,
        prompt="Rex",
        temperature=0.2,
        options={},
    )
    assert form["timestamp_granularities[]"] == ["segment"] and form["response_format"] == "verbose_json"
    assert speech_cost(Pricing(input_per_mtok=1.0), Usage(characters=10)) is None
    assert speech_cost(None, Usage(characters=10)) is None
    assert speech_cost(Pricing(per_audio_second=0.001), Usage(characters=10)) is None  # duration unknown
    assert speech_cost(Pricing(per_audio_second=0.001), Usage(audio_seconds=2.0)) == pytest.approx(0.002)
