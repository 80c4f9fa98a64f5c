"""The modality types: media saving, status normalisation, vendor shapes, strictness, cheap imports."""

from __future__ import annotations

import base64
import io
import json
import math
import struct
import subprocess
import sys
import typing
import wave
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from polyface import capabilities
from polyface.errors import BudgetExceeded
from polyface.types.embeddings import EmbeddingsResponse, RerankResponse, RerankResult
from polyface.types.fine_tuning import (
    FineTuneEvent,
    FineTuneJobInfo,
    Hyperparameters,
    LoRAConfig,
    PriceEstimate,
    normalize_fine_tune_status,
)
from polyface.types.image import GeneratedImage, ImageResponse
from polyface.types.models import Pricing
from polyface.types.speech import SpeechChunk, SpeechResponse
from polyface.types.text import TextDelta, TextResponse
from polyface.types.transcription import Transcription, TranscriptionSegment, TranscriptionWord
from polyface.types.usage import Usage
from polyface.types.video import VideoJobInfo, VideoResult, normalize_video_status
from polyface.types.voice import Voice, VoiceMatch, VoiceProfile

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def _wav(seconds: float, rate: int = 16_000, channels: int = 1) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x01\x00" * int(seconds * rate) * channels)
    return buf.getvalue()


# --- images ---------------------------------------------------------------------------------------


def test_image_saved_from_b64_reads_back_the_same_bytes(tmp_path: Path) -> None:
    image = GeneratedImage(b64_json=base64.b64encode(PNG).decode(), mime_type="image/png")
    target = image.save(tmp_path / "nested" / "hero.png")
    assert target == tmp_path / "nested" / "hero.png"
    assert target.read_bytes() == PNG
    assert image.bytes() == PNG
    assert GeneratedImage.from_bytes(PNG).bytes() == PNG


def test_image_from_a_data_url_needs_no_network(tmp_path: Path) -> None:
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert GeneratedImage(url=url).save(tmp_path / "a.png").read_bytes() == PNG


def test_image_from_an_http_url_is_fetched_on_save(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def fake_get(url: str, **kwargs: Any) -> httpx.Response:
        calls.append(url)
        return httpx.Response(200, content=PNG, request=httpx.Request("GET", url))

    monkeypatch.setattr(httpx, "get", fake_get)
    image = GeneratedImage(url="https://cdn.example/img/1.png")
    assert calls == []  # nothing is fetched until asked
    assert image.save(tmp_path / "b.png").read_bytes() == PNG
    assert calls == ["https://cdn.example/img/1.png"]


def test_image_url_error_status_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        httpx, "get", lambda url, **kw: httpx.Response(403, request=httpx.Request("GET", url))
    )
    with pytest.raises(httpx.HTTPStatusError):
        GeneratedImage(url="https://cdn.example/expired.png").bytes()


def test_image_needs_data_or_url_and_valid_base64() -> None:
    with pytest.raises(ValidationError, match="needs b64_json or url"):
        GeneratedImage()
    with pytest.raises(ValueError, match="not valid base64"):
        GeneratedImage(b64_json="not base64!!").bytes()


def test_image_response_shape() -> None:
    response = ImageResponse(
        provider="together",
        model="black-forest-labs/FLUX.1-schnell",
        seed=42,
        images=[{"b64_json": base64.b64encode(PNG).decode(), "index": 0}],
        usage=Usage(images=1),
    )
    assert response.images[0].bytes() == PNG
    assert response.seed == 42


# --- speech ---------------------------------------------------------------------------------------


def test_speech_wav_is_measured_and_saved(tmp_path: Path) -> None:
    data = _wav(0.5, rate=16_000)
    speech = SpeechResponse(provider="local", model="piper", audio=data, format="wav")
    assert speech.sample_rate == 16_000
    assert speech.duration_seconds == pytest.approx(0.5)
    assert speech.mime_type == "audio/wav"
    assert speech.save(tmp_path / "out" / "line.wav").read_bytes() == data
    with wave.open(str(tmp_path / "out" / "line.wav")) as w:
        assert w.getnframes() == 8_000


def test_streamed_wav_with_placeholder_size_uses_the_bytes_held() -> None:
    data = bytearray(_wav(0.25, rate=8_000))
    data_at = data.index(b"data")
    struct.pack_into("<I", data, data_at + 4, 0xFFFFFFFF)
    speech = SpeechResponse(provider="together", model="cartesia/sonic", audio=bytes(data))
    assert speech.duration_seconds == pytest.approx(0.25)


def test_pcm_duration_from_rate_and_encoding() -> None:
    one_second_f32 = b"\x00" * 4 * 44_100
    speech = SpeechResponse(
        provider="together",
        model="cartesia/sonic",
        audio=one_second_f32,
        format="raw",
        encoding="pcm_f32le",
        sample_rate=44_100,
    )
    assert speech.duration_seconds == pytest.approx(1.0)
    # OpenAI's "pcm" is s16le; without a rate the duration stays unknown rather than guessed.
    assert (
        SpeechResponse(provider="openai", model="tts-1", audio=b"\0" * 10, format="pcm").duration_seconds
        is None
    )


def test_speech_json_round_trip_keeps_binary_audio() -> None:
    speech = SpeechResponse(provider="openai", model="tts-1", audio=b"\xff\xfb\x90\x00\x80", format="mp3")
    again = SpeechResponse.model_validate_json(speech.model_dump_json())
    assert again.audio == b"\xff\xfb\x90\x00\x80"
    assert again == speech


def test_speech_chunks_join_into_one_response() -> None:
    chunks = [
        SpeechChunk(audio=b"\x00\x00" * 100, index=0, format="raw", encoding="pcm_s16le", sample_rate=100),
        SpeechChunk(audio=b"\x00\x00" * 50, index=1, final=True, usage=Usage(characters=12), cost=0.001),
    ]
    speech = SpeechResponse.from_chunks(chunks, provider="together", model="cartesia/sonic", voice="x")
    assert len(speech.audio) == 300
    assert speech.format == "raw"
    assert speech.duration_seconds == pytest.approx(1.5)
    assert speech.usage.characters == 12
    assert speech.cost == 0.001
    assert speech.voice == "x"


# --- status normalisation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vendor", "expected"),
    [
        ("completed", "succeeded"),  # Together
        ("succeeded", "succeeded"),  # OpenAI
        ("error", "failed"),  # Together
        ("CANCELED", "cancelled"),
        ("cancel_requested", "cancel_requested"),
        ("validating_files", "validating_files"),
        ("in-progress", "running"),
        ("Paused", "paused"),
        ("quantum_superposition", "unknown"),
        (None, "unknown"),
    ],
)
def test_fine_tune_status_synonyms(vendor: str | None, expected: str) -> None:
    assert normalize_fine_tune_status(vendor) == expected


def test_fine_tune_job_normalises_status_and_keeps_the_vendor_word() -> None:
    job = FineTuneJobInfo(id="ft-1", provider="together", status="completed", result_model="me/rex")
    assert (job.status, job.raw_status, job.done, job.succeeded) == ("succeeded", "completed", True, True)
    odd = FineTuneJobInfo.model_validate({"id": "ft-2", "provider": "x", "status": "defrosting"})
    assert (odd.status, odd.raw_status, odd.done) == ("unknown", "defrosting", False)
    again = FineTuneJobInfo.model_validate(job.model_dump())
    assert again.status == "succeeded"
    assert again.raw_status == "completed"


@pytest.mark.parametrize(
    ("vendor", "expected"),
    [
        ("in_progress", "in_progress"),
        ("queued", "queued"),
        ("succeeded", "completed"),
        ("Processing", "in_progress"),
        ("canceled", "cancelled"),
        ("melting", "unknown"),
    ],
)
def test_video_status_synonyms(vendor: str, expected: str) -> None:
    assert normalize_video_status(vendor) == expected
    info = VideoJobInfo.model_validate({"id": "v", "provider": "p", "status": vendor})
    assert info.status == expected
    assert info.raw_status == vendor


def test_video_job_info_from_openai_shape() -> None:
    info = VideoJobInfo(
        id="video_1",
        provider="openai",
        model="sora-2",
        status="completed",
        progress=1.0,
        created_at=1_734_220_800,
        seconds="8",
        size="1280x720",
    )
    assert info.done and info.succeeded
    assert info.seconds == 8.0
    assert info.created_at is not None and info.created_at.year == 2024
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        VideoJobInfo(id="v", provider="openai", status="in_progress", progress=55)


def test_video_result_save(tmp_path: Path) -> None:
    result = VideoResult(provider="local", data=b"\x00\x00\x00\x18ftypmp42")
    assert result.save(tmp_path / "v.mp4").read_bytes() == b"\x00\x00\x00\x18ftypmp42"
    assert result.mime_type == "video/mp4"
    with pytest.raises(ValidationError, match="needs data or url"):
        VideoResult(provider="local")


# --- usage and cost ------------------------------------------------------------------------------


def test_usage_adds_and_pricing_costs_it() -> None:
    total = Usage(input_tokens=1_000, output_tokens=500, details={"cached": 10}) + Usage(
        input_tokens=3_000, audio_seconds=30.0, images=2, details={"cached": 5}
    )
    assert (total.input_tokens, total.output_tokens, total.images) == (4_000, 500, 2)
    assert total.details == {"cached": 15}
    pricing = Pricing(input_per_mtok=0.5, output_per_mtok=2.0, per_image=0.01, per_audio_second=0.0001)
    expected = 4_000 * 0.5 / 1e6 + 500 * 2.0 / 1e6 + 2 * 0.01 + 30 * 0.0001
    assert pricing.cost(total) == pytest.approx(expected)
    embeddings = EmbeddingsResponse(
        provider="together",
        model="BAAI/bge-base-en-v1.5",
        vectors=[[0.1, 0.2, 0.3], [0.0, 1.0, 0.0]],
        usage=Usage(input_tokens=8),
        cost=Pricing(input_per_mtok=0.008).cost(Usage(input_tokens=8)),
    )
    assert embeddings.dimensions == 3
    assert embeddings.cost == pytest.approx(8 * 0.008 / 1e6)


def test_rerank_indices_are_most_relevant_first() -> None:
    rerank = RerankResponse(
        provider="together",
        model="m",
        results=[RerankResult(index=2, relevance_score=0.1), RerankResult(index=0, relevance_score=0.9)],
    )
    assert rerank.indices == [0, 2]
    with pytest.raises(ValidationError):
        RerankResult(index=-1, relevance_score=0.5)


# --- transcription ------------------------------------------------------------------------------

OPENAI_VERBOSE_JSON: dict[str, Any] = {
    "task": "transcribe",
    "language": "english",
    "duration": 8.470000267028809,
    "text": "The beach was a popular spot on a hot summer day.",
    "segments": [
        {
            "id": 0,
            "seek": 0,
            "start": 0.0,
            "end": 3.319999933242798,
            "text": " The beach was a popular spot on a hot summer day.",
            "tokens": [50364, 440, 7534, 390, 257, 3743, 4008, 322, 257, 2368, 4266, 786, 13, 50530],
            "temperature": 0.0,
            "avg_logprob": -0.2860786020755768,
            "compression_ratio": 1.2363636493682861,
            "no_speech_prob": 0.00985979475080967,
        }
    ],
    "words": [{"word": "The", "start": 0.0, "end": 0.24}, {"word": "beach", "start": 0.24, "end": 0.6}],
    "usage": {"type": "duration", "seconds": 9},
}


def test_openai_verbose_json_round_trips_without_loss() -> None:
    sample = json.loads(json.dumps(OPENAI_VERBOSE_JSON))
    transcript = Transcription(
        provider="openai",
        model="whisper-1",
        text=sample["text"],
        task=sample["task"],
        language=sample["language"],
        duration=sample["duration"],
        segments=sample["segments"],
        words=sample["words"],
        usage=Usage(audio_seconds=sample["usage"]["seconds"]),
    )
    segment = transcript.segments[0]
    assert segment.avg_logprob == pytest.approx(-0.2860786020755768)
    assert segment.tokens is not None and segment.tokens[-1] == 50530
    # Every vendor field comes back out exactly as it went in.
    assert segment.model_dump(exclude_unset=True) == sample["segments"][0]
    assert [w.model_dump(exclude_none=True) for w in transcript.words] == sample["words"]
    again = Transcription.model_validate_json(transcript.model_dump_json())
    assert again == transcript
    assert Pricing(per_audio_second=0.0001).cost(again.usage) == pytest.approx(0.0009)


def test_together_diarized_words_keep_their_speakers() -> None:
    transcript = Transcription(
        provider="together",
        model="openai/whisper-large-v3",
        text="hi there",
        words=[
            TranscriptionWord.model_validate(
                {"id": 1, "word": "there", "start": 0.5, "end": 0.9, "speaker_id": "SPEAKER_01"}
            ),
            TranscriptionWord.model_validate(
                {"id": 0, "word": "hi", "start": 0.0, "end": 0.4, "speaker_id": "SPEAKER_00"}
            ),
        ],
        speaker_segments=[
            TranscriptionSegment.model_validate(
                {
                    "id": 0,
                    "speaker_id": "SPEAKER_00",
                    "start": 0.0,
                    "end": 0.4,
                    "text": "hi",
                    "words": [{"word": "hi", "start": 0.0, "end": 0.4, "speaker_id": "SPEAKER_00"}],
                }
            )
        ],
    )
    assert transcript.words[0].speaker == "SPEAKER_01"
    assert transcript.speaker_segments[0].words[0].speaker == "SPEAKER_00"
    assert transcript.speakers == ["SPEAKER_00", "SPEAKER_01"]


# --- strictness ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (GeneratedImage, {"url": "https://x/1.png", "revised": "typo"}),
        (TranscriptionWord, {"word": "hi", "start": 0, "end": 1, "confidance": 0.9}),
        (LoRAConfig, {"r": 8, "rank": 16}),
        (Voice, {"id": "v", "name": "V", "provider": "p", "accent_color": "red"}),
    ],
)
def test_unknown_fields_are_refused_by_name(model: type[Any], fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as info:
        model.model_validate(fields)
    errors = info.value.errors()
    assert [e["type"] for e in errors] == ["extra_forbidden"]
    assert errors[0]["loc"][-1] in fields
    assert "Extra inputs are not permitted" in str(info.value)


def test_lora_and_hyperparameter_bounds() -> None:
    with pytest.raises(ValidationError, match="greater than 0"):
        LoRAConfig(r=0)
    with pytest.raises(ValidationError):
        LoRAConfig(dropout=1.0)
    hp = Hyperparameters(method="dpo", n_epochs=3, batch_size="max", lora=LoRAConfig(r=16, alpha=32))
    assert hp.lora is not None and hp.lora.trainable_modules == "all-linear"
    with pytest.raises(ValidationError):
        Hyperparameters(method="rlhf")


# --- fine-tuning events and prices -------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("warn", "warning"),
        ("legacy_iwarning", "warning"),
        ("legacy_ierror", "error"),
        (None, "info"),
        ("ERROR", "error"),
        ("verbose", "info"),
    ],
)
def test_event_levels_are_normalised(level: str | None, expected: str) -> None:
    assert FineTuneEvent.model_validate({"level": level, "message": "m"}).level == expected


def test_event_time_accepts_unix_seconds_and_iso() -> None:
    unix = FineTuneEvent(time=1_677_610_602, message="Created fine-tuning job")
    iso = FineTuneEvent(time="2023-02-28T18:56:42Z", message="Created fine-tuning job")
    assert unix.time == iso.time


def test_last_loss_is_the_latest_reported() -> None:
    job = FineTuneJobInfo(
        id="ft",
        provider="openai",
        status="running",
        events=[
            FineTuneEvent(step=1, loss=2.0),
            FineTuneEvent(message="checkpoint"),
            FineTuneEvent(step=2, loss=1.5),
            FineTuneEvent(message="saved"),
        ],
    )
    assert job.last_loss == 1.5
    assert not job.done


def test_price_estimate_enforces_a_budget() -> None:
    estimate = PriceEstimate(provider="together", total_usd=24.5, exact=True)
    estimate.check_budget(None)
    estimate.check_budget(25.0)
    with pytest.raises(BudgetExceeded, match=r"\$24\.50, over the budget of \$20\.00"):
        estimate.check_budget(20.0, "Training rex")


# --- voices ---------------------------------------------------------------------------------------


def test_voice_profile_closeness() -> None:
    rex = VoiceProfile(pitch_hz=110.0, speaking_rate=4.0, spectral_centroid_hz=1500.0)
    assert rex.closeness(rex) == 1.0
    octave_up = rex.model_copy(update={"pitch_hz": 220.0})
    assert rex.differences(octave_up)["pitch"] == pytest.approx(3.0)  # 12 semitones / 4
    assert rex.distance(octave_up) == pytest.approx(math.sqrt(9 / 3))
    far, near = rex.closeness(octave_up), rex.closeness(rex.model_copy(update={"pitch_hz": 115.0}))
    assert far is not None and near is not None
    assert 0 < far < near < 1
    assert rex.distance(VoiceProfile(loudness_dbfs=-20)) is None


def test_voice_match_score_is_bounded() -> None:
    voice = Voice(
        id="friendly sidekick", name="Friendly Sidekick", provider="together", model="cartesia/sonic"
    )
    assert VoiceMatch(voice=voice, score=0.8, explanation="close").voice.id == "friendly sidekick"
    with pytest.raises(ValidationError):
        VoiceMatch(voice=voice, score=1.5)


# --- capabilities ---------------------------------------------------------------------------------


def test_capability_names_are_complete_and_consistent() -> None:
    assert typing.get_args(capabilities.Capability) == capabilities.CAPABILITIES
    assert len(set(capabilities.CAPABILITIES)) == len(capabilities.CAPABILITIES) == 12
    for table in (
        capabilities.CAPABILITY_DESCRIPTIONS,
        capabilities.CAPABILITY_PROTOCOLS,
        capabilities.CAPABILITY_ATTRIBUTES,
    ):
        assert list(table) == list(capabilities.CAPABILITIES)
    fine_tuning = [c.split(".", 1)[1] for c in capabilities.CAPABILITIES if c.startswith("fine_tuning.")]
    assert tuple(fine_tuning) == capabilities.FINE_TUNING_MODALITIES


class _Text:
    def generate(self, *, model: str, messages: Sequence[Any], **options: Any) -> TextResponse:
        return TextResponse(provider="fake", model=model, text="hi")

    async def agenerate(self, *, model: str, messages: Sequence[Any], **options: Any) -> TextResponse:
        return self.generate(model=model, messages=messages)

    def stream(self, *, model: str, messages: Sequence[Any], **options: Any) -> Iterator[TextDelta]:
        yield TextDelta(text="hi")

    async def astream(
        self, *, model: str, messages: Sequence[Any], **options: Any
    ) -> AsyncIterator[TextDelta]:
        yield TextDelta(text="hi")

    def complete(self, *, model: str, prompt: str, **options: Any) -> TextResponse:
        return TextResponse(provider="fake", model=model, text=prompt)

    async def acomplete(self, *, model: str, prompt: str, **options: Any) -> TextResponse:
        return self.complete(model=model, prompt=prompt)


def test_protocols_check_implementations_at_runtime() -> None:
    text: capabilities.TextGeneration = _Text()  # mypy checks the signatures here
    assert isinstance(text, capabilities.TextGeneration)
    assert not isinstance(text, capabilities.Embeddings)

    class HalfText:
        def generate(self, **kw: Any) -> None: ...

    assert not isinstance(HalfText(), capabilities.TextGeneration)


def test_importing_types_and_capabilities_stays_cheap() -> None:
    code = (
        "import sys, polyface.types, polyface.capabilities; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'httpx')))"
    )
    assert (
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        == "[]"
    )
    code = "import sys, polyface.types.image; print('httpx' in sys.modules)"
    assert (
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        == "False"
    )
