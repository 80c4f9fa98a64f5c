"""TogetherAdapter.audio end to end against the local Together fake: speech (whole and streamed),
transcription and translation. Every request is checked against Together's OpenAPI spec.

Multipart bodies (transcriptions) are checked by ``tests/together_spec.py`` too: decoded, cast per the
spec's property types and validated against the operation's form schema.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_schema_validator import OAS31Validator

from polyface import TogetherAdapter
from polyface.errors import InvalidArgument, InvalidRequest, NotFound, ProviderUnavailable
from polyface.media.acoustics import decode_pcm, measure
from polyface.providers.together.audio import parse_transcription
from polyface.testing.fake_together import FakeTogether, RecordedRequest
from polyface.testing.fake_together.audio import VOICES, parse_multipart
from polyface.types.models import Pricing
from together_spec import together_response_problems, together_spec

KOKORO = "hexgrad/Kokoro-82M"
SONIC = "cartesia/sonic"
WHISPER = "openai/whisper-large-v3"


def adapter_for(fake: FakeTogether, **options: Any) -> TogetherAdapter:
    return TogetherAdapter(api_key=fake.api_key, base_url=fake.base_url, **options)


def fake_pitch(model: str, voice: str) -> float:
    return next(v.pitch_hz for v in VOICES[model] if v.name == voice)


@pytest.fixture
def fake(fake_together: FakeTogether) -> Iterator[FakeTogether]:
    yield fake_together


def paths(fake: FakeTogether, path: str) -> list[RecordedRequest]:
    return [r for r in fake.requests if r.path == path]


def speech_wav(fake: FakeTogether, seconds_text: str = "one two three four five six seven eight") -> bytes:
    with adapter_for(fake) as together:
        return together.audio.speak(model=KOKORO, text=seconds_text, voice="am_adam").audio


# ---- speak ------------------------------------------------------------------------------------------------


def test_speak_wav_is_saved_and_measures_as_the_voice(fake: FakeTogether, tmp_path: Path) -> None:
    pricing = {KOKORO: Pricing(per_million_characters=4.0)}
    with adapter_for(fake, pricing=pricing) as together:
        speech = together.audio.speak(model=KOKORO, text="Hello there, how are you today?", voice="af_heart")
    path = speech.save(tmp_path / "out" / "hello.wav")
    assert path.read_bytes() == speech.bytes() == speech.audio and speech.audio[:4] == b"RIFF"
    assert speech.format == "wav" and speech.mime_type == "audio/wav"
    assert speech.sample_rate == 24_000 and speech.channels == 1
    assert speech.duration_seconds is not None and 1.0 < speech.duration_seconds < 5.0
    assert speech.voice == "af_heart" and speech.provider == "together" and speech.model == KOKORO
    assert speech.usage.characters == len("Hello there, how are you today?")
    assert speech.cost == pytest.approx(31 * 4.0 / 1_000_000)
    profile = measure(path)
    assert profile.duration_seconds == pytest.approx(speech.duration_seconds)
    assert profile.pitch_hz == pytest.approx(fake_pitch(KOKORO, "af_heart"), rel=0.05)
    sent = paths(fake, "/v1/audio/speech")[0].json
    assert sent == {
        "model": KOKORO,
        "input": "Hello there, how are you today?",
        "voice": "af_heart",
        "response_format": "wav",
    }


def test_sample_rate_raw_encodings_and_mp3(fake: FakeTogether) -> None:
    with adapter_for(fake) as together:
        wav = together.audio.speak(model=SONIC, text="Short line.", voice="newsman", sample_rate=22_050)
        raw = together.audio.speak(model=SONIC, text="Short line.", voice="newsman", format="raw")
        s16 = together.audio.speak(
            model=SONIC,
            text="Short line.",
            voice="newsman",
            format="raw",
            encoding="pcm_s16le",
            sample_rate=16000,
        )
        kokoro_raw = together.audio.speak(
            model=KOKORO, text="Short line.", voice="am_adam", format="raw", sample_rate=16000
        )
        mp3 = together.audio.speak(
            model=SONIC, text="Short line.", voice="newsman", format="mp3", bit_rate=64000
        )
    assert wav.sample_rate == 22_050
    # Cartesia: raw defaults to pcm_f32le at 44.1 kHz; the duration follows from rate and encoding
    assert (raw.format, raw.encoding, raw.sample_rate) == ("raw", "pcm_f32le", 44_100)
    assert raw.duration_seconds == pytest.approx(wav.duration_seconds, abs=0.01)
    assert (s16.encoding, s16.sample_rate) == ("pcm_s16le", 16_000)
    assert s16.duration_seconds == pytest.approx(wav.duration_seconds, abs=0.01)
    # Kokoro always answers pcm_s16le at 24 kHz whatever is asked (Together's docs): polyface says so
    assert (kokoro_raw.encoding, kokoro_raw.sample_rate) == ("pcm_s16le", 24_000)
    pitch = measure(decode_pcm(kokoro_raw.audio, 24_000, "pcm_s16le")).pitch_hz
    assert pitch == pytest.approx(fake_pitch(KOKORO, "am_adam"), rel=0.05)
    assert mp3.format == "mp3" and mp3.mime_type == "audio/mpeg" and mp3.audio[:3] == b"ID3"
    bodies = [r.json for r in paths(fake, "/v1/audio/speech")]
    assert bodies[1]["response_encoding"] == "pcm_f32le" and bodies[2]["sample_rate"] == 16000
    assert bodies[4]["bit_rate"] == 64000 and "response_encoding" not in bodies[4]


def test_bad_speech_arguments_fail_before_sending(fake: FakeTogether) -> None:
    with adapter_for(fake) as together:
        cases: list[tuple[dict[str, Any], str]] = [
            ({"text": "  "}, "text is empty"),
            ({"voice": ""}, "voice is required"),
            ({"format": "ogg"}, "format 'ogg' is not offered by Together; use one of wav, mp3, raw"),
            ({"encoding": "pcm_s16le"}, "encoding applies to format='raw' only"),
            ({"sample_rate": -1}, "sample_rate must be a positive"),
            ({"language": "xx"}, "language 'xx' is not one Together speaks"),
            ({"bit_rate": 1000, "format": "mp3"}, "bit_rate applies to format='mp3'"),
            ({"speed": 1.2}, "does not take 'speed'"),
        ]
        for overrides, message in cases:
            args = {"model": KOKORO, "text": "hi", "voice": "af_alloy", **overrides}
            with pytest.raises(InvalidArgument, match=message):
                together.audio.speak(**args)
        with pytest.raises(InvalidArgument, match="streams raw PCM only"):
            together.audio.stream(model=KOKORO, text="hi", voice="af_alloy", format="wav")  # type: ignore[arg-type]
    assert fake.requests == []


def test_unknown_voice_is_the_vendors_error_then_refused_locally_once_voices_are_listed(
    fake: FakeTogether,
) -> None:
    with adapter_for(fake) as together:
        with pytest.raises(InvalidRequest, match="Voice 'nobody' is not available") as vendor:
            together.audio.speak(model=KOKORO, text="hi", voice="nobody")
        assert vendor.value.status == 400
        together.voice.list()
        sent = len(fake.requests)
        with pytest.raises(
            InvalidArgument, match=r"'nobody' is not a voice of hexgrad/Kokoro-82M; choose one of:"
        ):
            together.audio.speak(model=KOKORO, text="hi", voice="nobody")
        with pytest.raises(InvalidArgument, match="af_alloy, af_bella, af_heart, am_adam"):
            together.audio.stream(model=KOKORO, text="hi", voice="af_bella+ghost")
        assert len(fake.requests) == sent, "unknown voices of a listed model must not reach the vendor"
        mixed = together.audio.speak(model=KOKORO, text="hi there", voice="af_bella(2)+af_heart(1)")
        # a model the list does not know is left to the vendor
        with pytest.raises(NotFound, match="not a text-to-speech model"):
            together.audio.speak(model="someone/new-tts", text="hi", voice="x")
    assert mixed.duration_seconds is not None and mixed.duration_seconds > 0


# ---- streaming --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "voice", "encoding"), [(KOKORO, "af_alloy", None), (SONIC, "newsman", "pcm_s16le")]
)
def test_stream_chunks_join_into_the_same_audio(
    fake: FakeTogether, model: str, voice: str, encoding: Any
) -> None:
    text = "The streaming voice says a whole sentence, piece by piece."
    with adapter_for(fake, pricing={model: Pricing(per_million_characters=10.0)}) as together:
        with together.audio.stream(model=model, text=text, voice=voice, encoding=encoding) as stream:
            chunks = list(stream)
        joined = stream.response()
        whole = together.audio.speak(model=model, text=text, voice=voice, format="raw", encoding=encoding)
    audio_chunks = [c for c in chunks if not c.final]
    assert len(audio_chunks) >= 5, "audio should arrive in pieces"
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert b"".join(c.audio for c in chunks) == whole.audio == joined.audio
    final = chunks[-1]
    assert final.final and final.audio == b"" and final.usage is not None
    assert final.usage.characters == len(text) and final.cost == pytest.approx(len(text) * 10.0 / 1e6)
    assert (
        joined.format == "raw"
        and joined.encoding == whole.encoding
        and joined.sample_rate == whole.sample_rate
    )
    assert joined.duration_seconds == pytest.approx(whole.duration_seconds)
    assert joined.cost == pytest.approx(whole.cost)
    body = paths(fake, "/v1/audio/speech")[0].json
    assert body["stream"] is True and body["response_format"] == "raw"


def test_a_cut_stream_raises_after_delivering_what_came(fake: FakeTogether) -> None:
    fake.drop_stream(after_chunks=3)
    with adapter_for(fake) as together:
        got = []
        with pytest.raises(ProviderUnavailable):
            for chunk in together.audio.stream(
                model=KOKORO, text="A long enough sentence to stream.", voice="am_adam"
            ):
                got.append(chunk)
    assert 1 <= len(got) <= 3 and not any(c.final for c in got)


def test_the_fakes_answers_match_the_spec(fake: FakeTogether) -> None:
    headers = {"Authorization": f"Bearer {fake.api_key}"}
    wav = speech_wav(fake)
    with httpx.Client(base_url=fake.base_url, headers=headers) as client:
        answers = [
            client.post("/audio/speech", json={"model": KOKORO, "input": "hi there", "voice": "af_alloy"}),
            client.post(
                "/audio/speech",
                json={
                    "model": SONIC,
                    "input": "hi there",
                    "voice": "newsman",
                    "stream": True,
                    "response_format": "raw",
                },
            ),
            client.get("/voices"),
            client.post(
                "/audio/transcriptions",
                data={"model": WHISPER, "response_format": "verbose_json", "diarize": "true"},
                files={"file": ("a.wav", wav, "audio/wav")},
            ),
            client.post(
                "/audio/translations",
                data={"model": WHISPER, "response_format": "verbose_json", "timestamp_granularities": "word"},
                files={"file": ("a.wav", wav, "audio/wav")},
            ),
        ]
    requests = fake.requests[-len(answers) :]
    documented = together_spec().document["paths"]["/audio/speech"]["post"]["responses"]["200"]["content"]
    for req, answer in zip(requests, answers, strict=True):
        assert answer.status_code == 200, answer.text
        content_type = answer.headers["content-type"].split(";")[0]
        if content_type.startswith("audio/"):
            assert content_type in documented  # openapi-core cannot check binary bodies
            continue
        if req.path.startswith("/v1/audio/trans"):
            # The spec's oneOf(json, verbose_json) matches every verbose answer twice ("text" is all the json
            # branch needs), so no verbose answer can pass it: check against the verbose schema itself.
            name = "AudioTranscription" if "transcriptions" in req.path else "AudioTranslation"
            schema = {"$ref": f"#/components/schemas/{name}VerboseJsonResponse"}
            document = together_spec().document
            validator = OAS31Validator({**schema, "components": document["components"]})
            assert [e.message for e in validator.iter_errors(answer.json())] == []
            continue
        assert together_response_problems(req, answer.status_code, dict(answer.headers), answer.content) == []
    assert answers[0].headers["content-type"] == "audio/wav"
    assert answers[1].headers["content-type"].startswith("text/event-stream")
    assert answers[1].text.rstrip().endswith("data: [DONE]")


# ---- transcription --------------------------------------------------------------------------------


def test_transcribe_a_path_with_segments_and_words(fake: FakeTogether, tmp_path: Path) -> None:
    path = tmp_path / "persona.wav"
    path.write_bytes(speech_wav(fake, "one two three four five six seven eight nine ten eleven twelve"))
    pricing = {WHISPER: Pricing(per_audio_second=0.0001)}
    with adapter_for(fake, pricing=pricing) as together:
        result = together.audio.transcribe(path, model=WHISPER, language="en", timestamps="word")
    duration = result.duration
    assert duration is not None and duration > 2
    assert result.task == "transcribe" and result.language == "english" and result.model == WHISPER
    assert result.text.startswith("the quick brown fox")
    assert len(result.segments) >= 2 and result.segments[0].start == 0.0
    assert " ".join(s.text for s in result.segments) == result.text
    assert [w.word for w in result.words] == result.text.split()
    starts = [w.start for w in result.words]
    assert starts == sorted(starts) and all(w.end <= duration + 1e-6 for w in result.words)
    assert result.speakers == [] and result.speaker_segments == []
    assert result.usage.audio_seconds == pytest.approx(duration)
    assert result.cost == pytest.approx(duration * 0.0001)
    form = parse_multipart(paths(fake, "/v1/audio/transcriptions")[0])
    assert form["file"] == [("persona.wav", path.read_bytes())]
    assert form["response_format"] == ["verbose_json"] and form["language"] == ["en"]
    assert form["timestamp_granularities"] == ["segment", "word"]


def test_text_only_transcription_of_bytes_and_file_objects(fake: FakeTogether) -> None:
    wav = speech_wav(fake)
    with adapter_for(fake) as together:
        plain = together.audio.transcribe(wav, model=WHISPER, timestamps=None)
        from_file = together.audio.transcribe(io.BytesIO(wav), model=WHISPER)
        from_url = together.audio.transcribe("https://example.com/voice.wav", model=WHISPER, temperature=0.2)
    assert plain.text and plain.segments == [] and plain.words == []
    assert plain.duration == pytest.approx(from_file.duration, abs=1e-3)  # json: measured locally
    assert plain.usage.audio_seconds == pytest.approx(plain.duration)
    assert from_file.segments and not from_file.words
    assert from_url.duration == pytest.approx(5.0)
    forms = [parse_multipart(r) for r in paths(fake, "/v1/audio/transcriptions")]
    assert forms[0]["response_format"] == ["json"] and "timestamp_granularities" not in forms[0]
    assert forms[1]["file"] == [("audio.wav", wav)] and forms[1]["timestamp_granularities"] == ["segment"]
    assert forms[2]["file"] == ["https://example.com/voice.wav"] and forms[2]["temperature"] == ["0.2"]


def test_diarization_labels_speakers(fake: FakeTogether) -> None:
    wav = speech_wav(fake, " ".join(["word"] * 30))
    with adapter_for(fake) as together:
        two = together.audio.transcribe(wav, model=WHISPER, diarize=True)
        three = together.audio.transcribe(wav, model=WHISPER, diarize=True, min_speakers=1, max_speakers=3)
        with pytest.raises(InvalidArgument, match=r"min_speakers .* is more than max_speakers"):
            together.audio.transcribe(wav, model=WHISPER, diarize=True, min_speakers=3, max_speakers=2)
        with pytest.raises(InvalidArgument, match="max_speakers applies to diarization only"):
            together.audio.transcribe(wav, model=WHISPER, max_speakers=2)
    assert two.speakers == ["SPEAKER_00", "SPEAKER_01"]
    assert three.speakers == ["SPEAKER_00", "SPEAKER_01", "SPEAKER_02"]
    assert all(w.speaker is not None for w in two.words) and two.words
    turns = two.speaker_segments
    assert [t.speaker for t in turns[:3]] == ["SPEAKER_00", "SPEAKER_01", "SPEAKER_00"]
    assert all(w.speaker == t.speaker for t in turns for w in t.words)
    assert " ".join(t.text for t in turns) == two.text
    forms = [parse_multipart(r) for r in paths(fake, "/v1/audio/transcriptions")]
    assert forms[0]["diarize"] == ["true"] and forms[1]["max_speakers"] == ["3"]
    assert len(forms) == 2


def test_translate(fake: FakeTogether) -> None:
    wav = speech_wav(fake)
    with adapter_for(fake) as together:
        result = together.audio.translate(wav, model=WHISPER, timestamps="word", prompt="A greeting.")
        with pytest.raises(InvalidArgument, match="does not take 'diarize'"):
            together.audio.translate(wav, model=WHISPER, diarize=True)
    assert result.task == "translate" and result.language == "english"
    assert result.text.startswith("hello this is the english translation")
    assert result.segments and result.words
    form = parse_multipart(paths(fake, "/v1/audio/translations")[0])
    assert form["prompt"] == ["A greeting."] and "diarize" not in form


def test_unreadable_missing_or_empty_audio_is_refused_before_sending(
    fake: FakeTogether, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00garbage")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with adapter_for(fake) as together:
        cases: list[tuple[Any, str]] = [
            (tmp_path / "missing.wav", "does not exist"),
            (empty, "is empty"),
            (b"", "is empty"),
            (b"hello, I am a text file", "not audio polyface recognises"),
            (b"OggS" + b"\x00" * 64, "a ogg file; use one of wav, mp3, m4a, webm, flac"),
            (broken, "not a readable WAV file"),
            (tmp_path, "is a folder"),
            (io.StringIO("RIFF"), "text mode"),
            (12345, "cannot read audio from a int"),
        ]
        for audio, message in cases:
            with pytest.raises(InvalidArgument, match=message):
                together.audio.transcribe(audio, model=WHISPER)
        with pytest.raises(InvalidArgument, match="timestamps must be"):
            together.audio.transcribe(b"RIFF", model=WHISPER, timestamps="sentence")  # type: ignore[arg-type]
        with pytest.raises(InvalidArgument, match="temperature must be between"):
            together.audio.transcribe("https://example.com/a.wav", model=WHISPER, temperature=3)
    assert paths(fake, "/v1/audio/transcriptions") == []


def test_the_vendor_refusing_audio_surfaces_its_message(fake: FakeTogether) -> None:
    fake.fail(
        "/v1/audio/transcriptions", 400, body={"error": {"message": "Audio decode failed", "type": "x"}}
    )
    with adapter_for(fake) as together, pytest.raises(InvalidRequest, match="Audio decode failed") as caught:
        together.audio.transcribe(b"ID3\x04" + b"\x00" * 64, model=WHISPER)
    assert caught.value.status == 400
    assert parse_multipart(paths(fake, "/v1/audio/transcriptions")[0])["file"][0][0] == "audio.mp3"


def test_parse_transcription_tolerates_vendor_extras() -> None:
    data = {
        "task": "transcribe",
        "language": "en",
        "duration": 2.0,
        "text": "hi there",
        "segments": [
            {"id": 0, "start": 0, "end": 2.0, "text": "hi there", "new_field": 1, "speaker_id": "S1"}
        ],
        "words": [{"word": "hi", "start": 0, "end": 0.5, "speaker_id": "S1", "confidence": 0.9}],
        "usage": {"seconds": 2},
    }
    result = parse_transcription(data, provider="together", model=WHISPER, task="transcribe")
    assert result.segments[0].speaker == "S1" and result.words[0].speaker == "S1"
    assert result.raw["usage"] == {"seconds": 2} and result.usage.audio_seconds == 2.0
    text_only = parse_transcription(
        {"text": "x"}, provider="together", model=WHISPER, task="translate", duration=3.5
    )
    assert text_only.task == "translate" and text_only.duration == 3.5
    with pytest.raises(ProviderUnavailable, match="has no text"):
        parse_transcription({"segments": []}, provider="together", model=WHISPER, task="transcribe")


# ---- async twins --------------------------------------------------------------------------------


def test_async_twins(fake: FakeTogether) -> None:
    text = "Async speech says this sentence for the test."

    async def main() -> tuple[Any, ...]:
        async with adapter_for(fake) as together:
            speech = await together.audio.aspeak(model=KOKORO, text=text, voice="am_michael")
            raw = await together.audio.aspeak(model=KOKORO, text=text, voice="am_michael", format="raw")
            async with together.audio.astream(model=KOKORO, text=text, voice="am_michael") as stream:
                chunks = [chunk async for chunk in stream]
            joined = await stream.response()
            words = await together.audio.atranscribe(
                speech.audio, model=WHISPER, timestamps="word", diarize=True
            )
            english = await together.audio.atranslate(speech.audio, model=WHISPER)
            return speech, raw, chunks, joined, words, english

    speech, raw, chunks, joined, words, english = asyncio.run(main())
    assert speech.sample_rate == 24_000 and speech.duration_seconds is not None
    assert b"".join(c.audio for c in chunks) == raw.audio == joined.audio and chunks[-1].final
    assert words.words and words.speakers and all(w.speaker for w in words.words)
    assert words.duration == pytest.approx(speech.duration_seconds, abs=0.01)
    assert english.task == "translate" and english.text.startswith("hello")
    assert json.loads(json.dumps(words.model_dump()))["text"] == words.text
    assert measure(speech.audio).pitch_hz == pytest.approx(fake_pitch(KOKORO, "am_michael"), rel=0.05)


def test_audio_satisfies_the_speech_and_transcription_protocols() -> None:
    from polyface.capabilities import Speech, Transcription

    together = TogetherAdapter(api_key="k", base_url="http://127.0.0.1:9/v1")
    assert isinstance(together.audio, Speech) and isinstance(together.audio, Transcription)


@pytest.mark.together_spec_exempt(reason="sends an invalid form on purpose, to see the check catch it")
def test_the_spec_check_reads_multipart_forms(fake_together: FakeTogether) -> None:
    from together_spec import together_request_problems

    form = {"model": WHISPER, "diarize": "maybe", "bogus_field": "x"}
    files = {"file": ("a.wav", b"RIFF....WAVEfmt ", "audio/wav")}
    with httpx.Client(base_url=fake_together.base_url) as client:
        client.post(
            "/audio/transcriptions",
            data=form,
            files=files,
            headers={"Authorization": f"Bearer {fake_together.api_key}"},
        )
    (req,) = fake_together.requests
    problems = " ".join(together_request_problems(req))
    assert "bogus_field" in problems and "diarize" in problems


def test_breaking_out_of_a_speech_stream_closes_its_connection(fake_together: FakeTogether) -> None:
    import time

    fake_together.slow_stream(interval=0.05, chunks=2000)
    with adapter_for(fake_together) as together:
        stream = together.audio.stream(model=SONIC, text="hello there friend", voice="friendly sidekick")
        for _ in stream:
            break
        deadline = time.monotonic() + 5
        while fake_together.streams_cancelled < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert fake_together.streams_cancelled == 1
