"""Local transcription (PocketSphinx) of eSpeak NG speech, and the recognizer adapted to a persona's words."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from polyface.errors import CapabilityNotSupported, InvalidArgument, NotFound
from polyface.providers.local.audio import normalize_words, word_error_rate

SENTENCE = "Please call me tomorrow morning before the meeting starts."


def _recall(reference: str, hypothesis: str) -> float:
    said = set(normalize_words(hypothesis))
    words = normalize_words(reference)
    return sum(w in said for w in words) / len(words)


def test_transcribes_espeak_speech(local: Any, tmp_path: Path) -> None:
    speech = local.audio.speak(model="espeak-ng", text=SENTENCE, voice="ivy", sample_rate=24000)
    path = speech.save(tmp_path / "line.wav")
    result = local.audio.transcribe(path, model="pocketsphinx-en-us")
    assert result.provider == "local" and result.language == "en" and result.cost == 0.0
    assert _recall(SENTENCE, result.text) >= 0.6, result.text
    assert result.duration == pytest.approx(speech.duration_seconds, abs=0.01)
    starts = [w.start for w in result.words]
    assert result.words and starts == sorted(starts)
    assert all(0 <= w.start < w.end <= result.duration + 0.05 for w in result.words)
    assert " ".join(s.text for s in result.segments) == result.text


def test_word_error_rate_counts_edits() -> None:
    assert word_error_rate("the cat sat", "the cat sat") == (0, 3)
    assert word_error_rate("the cat sat", "a cat sat down") == (2, 3)


@pytest.mark.parametrize(
    ("audio", "words"),
    [
        (b"", "empty"),
        (b"this is not audio at all", "not audio"),
        (b"RIFF\x10\x00\x00\x00WAVEjunk", "not a readable WAV"),
        ("missing.wav", "does not exist"),
    ],
)
def test_unreadable_audio_is_refused(local: Any, audio: Any, words: str) -> None:
    with pytest.raises(InvalidArgument, match=words):
        local.audio.transcribe(audio, model="pocketsphinx-en-us")


def test_bad_transcription_options(local: Any) -> None:
    wav = local.audio.speak(text="Hello.", voice="ivy").audio
    with pytest.raises(InvalidArgument, match="US English only"):
        local.audio.transcribe(wav, model="pocketsphinx-en-us", language="fr")
    with pytest.raises(InvalidArgument, match="pocketsphinx-en-us"):
        local.audio.transcribe(wav, model="whisper-1")
    with pytest.raises(NotFound, match="no local transcription model"):
        local.audio.transcribe(wav, model="pocketsphinx-en-us:nothing")
    with pytest.raises(CapabilityNotSupported, match="English speech only"):
        local.audio.translate(wav, model="pocketsphinx-en-us")


async def test_async_twins(local: Any) -> None:
    wav = (await local.audio.aspeak(text=SENTENCE, voice="ivy", sample_rate=16000)).audio
    result = await local.audio.atranscribe(io.BytesIO(wav), model="pocketsphinx-en-us")
    assert _recall(SENTENCE, result.text) >= 0.6, result.text
    with pytest.raises(CapabilityNotSupported):
        await local.audio.atranslate(wav, model="pocketsphinx-en-us")


TEXTS = [
    "Captain Rexford guards the silver lighthouse every night.",
    "The lighthouse keeper feeds the seagulls at dawn.",
    "Rexford polishes the brass lantern before the storm.",
    "Seagulls circle the lighthouse when the fog rolls in.",
    "The storm shook the lantern but Rexford kept it burning.",
    "Every sailor trusts the silver lighthouse beam.",
    "Rexford writes the weather in his logbook at dawn.",
    "The brass lantern shines across the harbor.",
    "The fog horn warns sailors near the rocky harbor.",
    "Rexford rows his little boat to the rocky island.",
    "The keeper climbs the spiral stairs to the lantern room.",
    "Sailors wave at Rexford from the harbor.",
]
HELD_OUT = [
    "Rexford polishes the silver lantern at dawn.",
    "The seagulls circle the harbor in the fog.",
    "Sailors trust the lighthouse keeper.",
]


@pytest.mark.slow
def test_adapted_recognizer_lowers_word_error_rate(local: Any) -> None:
    job = local.fine_tuning.audio.train(texts=TEXTS, held_out=HELD_OUT, name="rex")
    job.wait(timeout=120)
    assert job.status == "succeeded"
    model_id = job.result_model
    assert model_id == "pocketsphinx-en-us:rex"
    metrics = local.model(model_id).metrics
    assert metrics["wer_after"] < metrics["wer_before"], metrics
    assert any("wer_after" in e.data for e in job.events())
    assert model_id in [m.id for m in local.models()]
    # transcribe() takes the adapted model, and it recognises a new sentence in the persona's words.
    line = "Rexford feeds the seagulls near the harbor."
    wav = local.audio.speak(text=line, voice="alex").audio
    adapted = local.audio.transcribe(wav, model=model_id)
    general = local.audio.transcribe(wav, model="pocketsphinx-en-us")
    assert word_error_rate(line, adapted.text)[0] <= word_error_rate(line, general.text)[0], (
        adapted.text,
        general.text,
    )


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"texts": "one string"}, "list of sentences"),
        ({"texts": ["Hello there.", "  "]}, r"texts\[1\] has no words"),
        ({"texts": ["One sentence.", "Two sentences."]}, "at least 3 texts"),
        ({"texts": TEXTS, "held_out": []}, "held_out is empty"),
        ({"texts": TEXTS, "name": "bad name!"}, "not usable"),
        ({"texts": TEXTS, "voice": "nobody"}, "not a local voice"),
    ],
)
def test_bad_training_input_is_refused_before_a_job_starts(
    local: Any, kwargs: dict[str, Any], words: str
) -> None:
    with pytest.raises(InvalidArgument, match=words):
        local.fine_tuning.audio.train(**kwargs)
    assert local.fine_tuning.audio.list() == []
