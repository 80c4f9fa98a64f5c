"""``persona.respond``: the unified inference (text, voice, video, image) on the local provider and on
the vendor fakes, with conversation memory, audio input, storage of every output, and clear refusals."""

from __future__ import annotations

import wave
from collections.abc import Iterator, Mapping, Sequence
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from polyface import OpenAIAdapter, TogetherAdapter
from polyface.errors import CapabilityNotSupported, InvalidArgument
from polyface.media import acoustics
from polyface.media.ffmpeg import probe
from polyface.persona.errors import NoAvatar
from polyface.persona.respond import (
    OUTPUT_MODALITIES,
    PersonaResponse,
    check_modalities,
    conversation_history,
    conversations,
    speech_arguments,
)
from polyface.persona.studio import Studio
from polyface.persona.tables import Conversation, MediaBlob, Turn, TurnMedia
from polyface.types.text import TextResponse
from polyface.types.transcription import Transcription
from polyface.types.usage import Usage

LOCAL_AVATAR = {
    "text": "local:smollm2-135m-instruct",
    "voice": "local:espeak-ng",
    "image": "local:portrait",
    "video": "local:talking-head",
}
SMALL_VIDEO = {"size": "128x128", "fps": 12}


class SpyText:
    """A text model that records each call and echoes the last message (deterministic, instant)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def generate(self, *, model: str, messages: Sequence[Mapping[str, str]], **options: Any) -> TextResponse:
        self.calls.append({"model": model, "messages": [dict(m) for m in messages], "options": options})
        last = messages[-1]["content"]
        return TextResponse(
            provider="spy",
            model=model,
            text=f"Family first. You asked: {last}",
            usage=Usage(input_tokens=10, output_tokens=5, total_tokens=15),
            cost=0.001,
        )


class SpyAudio:
    def __init__(self) -> None:
        self.heard: list[bytes] = []

    def transcribe(self, audio: bytes, *, model: str) -> Transcription:
        self.heard.append(audio)
        return Transcription(provider="spy", model=model, text="who do you trust", duration=1.5)


class SpyAdapter:
    def __init__(self) -> None:
        self.text = SpyText()
        self.audio = SpyAudio()


@pytest.fixture
def spy_studio(database_url: str, tmp_path: Path) -> Iterator[tuple[Studio, SpyAdapter]]:
    """A Studio (both databases) whose ``spy`` provider records the text model's messages."""
    spy = SpyAdapter()
    studio = Studio(database_url, data_dir=tmp_path / "studio", providers={"spy": spy})
    yield studio, spy
    studio.close()


def _wav_duration(data: bytes) -> float:
    with wave.open(BytesIO(data)) as reader:
        return float(reader.getnframes() / reader.getframerate())


def _stored(studio: Studio, turn_id: int) -> dict[str, tuple[str, str]]:
    """kind -> (sha256, mime type) of a turn's stored media."""
    with studio.db.session() as session:
        rows = session.execute(
            select(TurnMedia.kind, MediaBlob.sha256, MediaBlob.mime_type)
            .join(MediaBlob, MediaBlob.sha256 == TurnMedia.media_sha256)
            .where(TurnMedia.turn_id == turn_id)
        ).all()
    return {kind: (sha, mime) for kind, sha, mime in rows}


# ---- the local provider, every modality --------------------------------------------------------------


@pytest.mark.slow
def test_local_avatar_answers_in_text_voice_video_and_image_all_stored(studio: Studio) -> None:
    rex = studio.personas.create(
        "rex", description="A gruff driver who lives by family and loyalty.", style_notes="short, dry"
    )
    rex.set_avatar(LOCAL_AVATAR)
    answer = rex.respond(
        "What matters most?",
        output_modalities=["text", "voice", "video", "image"],
        max_tokens=24,
        temperature=0,
        video_options=SMALL_VIDEO,
        image_options={"size": "128x128"},
    )
    assert isinstance(answer, PersonaResponse) and answer.text.strip()
    assert answer.input_text == "What matters most?"
    assert answer.voice is not None and answer.video is not None and answer.image is not None

    # voice: a WAV whose length fits the words (eSpeak speaks ~2-4 words/s)
    words = len(answer.text.split())
    voice_seconds = acoustics.read_wav(answer.voice.data).duration
    assert answer.voice.mime_type == "audio/wav"
    assert words / 5.0 <= voice_seconds <= words / 1.2 + 1.0, (words, voice_seconds)

    # video: H.264 + audio MP4 as long as the voice it speaks
    assert answer.video.mime_type == "video/mp4"
    info = probe(answer.video.data)
    assert info.video is not None and info.audio is not None
    assert info.duration is not None and abs(info.duration - voice_seconds) <= 0.2

    # image: a PNG
    assert answer.image.mime_type == "image/png" and answer.image.data.startswith(b"\x89PNG\r\n\x1a\n")

    # every output is in the media store and linked to the assistant's turn
    stored = _stored(studio, answer.turn_id)
    assert set(stored) == {"voice", "video", "image"}
    for output in (answer.voice, answer.video, answer.image):
        assert stored[output.kind] == (output.sha256, output.mime_type)
        assert output.path is not None and output.path.read_bytes() == output.data
    with studio.db.session() as session:
        turns = session.scalars(
            select(Turn).where(Turn.conversation_id == answer.conversation_id).order_by(Turn.id)
        ).all()
        assert [(t.role, t.text) for t in turns] == [
            ("user", "What matters most?"),
            ("assistant", answer.text),
        ]
        assert turns[1].avatar_id is not None and turns[1].cost == 0.0
        assert turns[1].usage["images"] == 1 and turns[1].usage["output_tokens"] == answer.usage.output_tokens
    assert answer.usage.audio_seconds == pytest.approx(voice_seconds, abs=0.01)
    assert answer.usage.output_tokens > 0 and answer.cost == 0.0
    assert answer.models["text"] == {"provider": "local", "model": "smollm2-135m-instruct"}
    assert answer.models["video"]["image_model"] == "portrait"

    history = conversation_history(rex, answer.conversation_id)
    assert [t.role for t in history] == ["user", "assistant"]
    assert {m.kind for m in history[1].media} == {"voice", "video", "image"}
    assert all(m.path is not None and m.path.is_file() for m in history[1].media)
    listed = conversations(rex)
    assert [(c.id, c.turns, c.title) for c in listed] == [(answer.conversation_id, 2, "What matters most?")]


@pytest.mark.slow
def test_video_alone_speaks_a_trained_local_voice_without_returning_it(
    spy_studio: tuple[Studio, SpyAdapter],
) -> None:
    studio, _ = spy_studio
    local = studio.adapter("local")
    # a slow speaker, so the fitted voice cannot be mistaken for the default one by its timing
    lines = ["Family comes first. The road is honest with me.", "Loyalty is all I keep, and I keep it close."]
    samples = [local.audio.speak(text=line, voice="leo", speed=0.6).audio for line in lines]
    job = local.fine_tuning.voice.train(samples, name="rex")
    job.wait()
    assert job.result_model == "espeak-ng:rex"
    rex = studio.personas.create("rex", description="A gruff driver.")
    rex.set_avatar({"text": "spy:echo", "voice": "local:espeak-ng:rex", "video": "local:talking-head"})

    answer = rex.respond("Where to?", output_modalities=["video"], video_options=SMALL_VIDEO)

    assert answer.voice is None and answer.image is None and answer.video is not None
    assert answer.models["voice"] == {"provider": "local", "model": "espeak-ng:rex", "voice": "espeak-ng:rex"}
    said = local.audio.speak(model="espeak-ng", text=answer.text, voice="espeak-ng:rex")
    info = probe(answer.video.data)
    assert info.audio is not None and info.duration is not None
    assert abs(info.duration - said.duration_seconds) <= 0.2  # the trained voice, not the default one
    default = local.audio.speak(model="espeak-ng", text=answer.text)
    assert said.duration_seconds > 1.3 * default.duration_seconds
    assert abs(info.duration - said.duration_seconds) < abs(info.duration - default.duration_seconds)
    assert set(_stored(studio, answer.turn_id)) == {"video"}
    assert answer.usage.audio_seconds == pytest.approx(said.duration_seconds, abs=0.05)


# ---- conversation memory, prompts and options (a recording text model) --------------------------------


def test_a_second_answer_remembers_the_first_exchange(spy_studio: tuple[Studio, SpyAdapter]) -> None:
    studio, spy = spy_studio
    rex = studio.personas.create("rex", description="A gruff driver.", style_notes="Short and dry.")
    rex.set_avatar({"text": "spy:echo"})

    first = rex.respond("What matters most?", temperature=0.3, max_tokens=50)
    second = rex.respond("Why?", conversation=first.conversation_id)
    other = rex.respond("Who are you?")

    system = spy.text.calls[0]["messages"][0]
    assert system["role"] == "system"
    assert "You are rex." in system["content"] and "A gruff driver." in system["content"]
    assert "Short and dry." in system["content"]
    assert spy.text.calls[0]["options"] == {"temperature": 0.3, "max_tokens": 50}
    assert spy.text.calls[0]["model"] == "echo"
    assert spy.text.calls[1]["messages"][1:] == [
        {"role": "user", "content": "What matters most?"},
        {"role": "assistant", "content": first.text},
        {"role": "user", "content": "Why?"},
    ]
    assert second.conversation_id == first.conversation_id != other.conversation_id
    assert spy.text.calls[2]["messages"][1:] == [{"role": "user", "content": "Who are you?"}]
    assert [len(conversation_history(rex, c.id)) for c in conversations(rex)] == [4, 2]
    assert first.cost == pytest.approx(0.001) and first.usage.total_tokens == 15


def test_memory_keeps_the_last_turns_within_the_budget(spy_studio: tuple[Studio, SpyAdapter]) -> None:
    studio, spy = spy_studio
    rex = studio.personas.create("rex", system_prompt="You are Rex. Never smile.")
    rex.set_avatar({"text": "spy:echo"})
    first = rex.respond("one")
    for word in ("two", "three", "four"):
        rex.respond(word, conversation=first.conversation_id)
    rex.respond("five", conversation=first.conversation_id, memory_turns=4)
    rex.respond("six", conversation=first.conversation_id, memory_chars=60)

    assert spy.text.calls[0]["messages"][0] == {"role": "system", "content": "You are Rex. Never smile."}
    four = spy.text.calls[4]["messages"][1:]
    assert [m["content"] for m in four if m["role"] == "user"] == ["three", "four", "five"]
    assert len(four) == 5 and four[0]["role"] == "user"
    budget = spy.text.calls[5]["messages"][1:-1]
    assert sum(len(m["content"]) for m in budget) <= 60 and budget and budget[0]["role"] == "user"
    assert budget[-1]["content"].endswith("five")


def test_audio_input_is_transcribed_and_kept_with_the_users_turn(
    spy_studio: tuple[Studio, SpyAdapter], tmp_path: Path
) -> None:
    studio, spy = spy_studio
    recording = studio.adapter("local").audio.speak(text="What matters most to you?", voice="ivy").audio
    path = tmp_path / "question.wav"
    path.write_bytes(recording)
    rex = studio.personas.create("rex")
    rex.set_avatar({"text": "spy:echo"})

    heard_locally = rex.respond(str(path))  # no audio model: the local recognizer
    assert heard_locally.input_text == "what matters most to you"
    assert spy.text.calls[-1]["messages"][-1] == {"role": "user", "content": "what matters most to you"}
    assert heard_locally.models["audio"] == {"provider": "local", "model": "pocketsphinx-en-us"}
    stored = _stored(studio, heard_locally.user_turn_id)
    assert set(stored) == {"input_audio"}
    sha, mime = stored["input_audio"]
    assert mime == "audio/wav" and studio.media.read(sha, mime) == recording

    rex.set_avatar({"audio": "spy:ears"})  # the avatar's own recognizer is used when it has one
    heard = rex.respond(recording, conversation=heard_locally.conversation_id)
    assert heard.input_text == "who do you trust" and spy.audio.heard == [recording]
    assert heard.models["audio"] == {"provider": "spy", "model": "ears"}
    history = conversation_history(rex, heard.conversation_id)
    assert [t.text for t in history if t.role == "user"] == ["what matters most to you", "who do you trust"]
    assert history[2].media[0].kind == "input_audio" and history[2].media[0].meta["model"] == "ears"


# ---- refusals -------------------------------------------------------------------------------------------


def test_refusals_are_clear_and_store_nothing(spy_studio: tuple[Studio, SpyAdapter], tmp_path: Path) -> None:
    studio, spy = spy_studio
    rex = studio.personas.create("rex")
    with pytest.raises(NoAvatar, match=r"no avatar yet.*set_avatar"):
        rex.respond("Hi")
    rex.set_avatar({"voice": "local:espeak-ng"})
    with pytest.raises(NoAvatar, match=r"has no text model.*set_avatar\(\{'text'"):
        rex.respond("Hi")
    rex.set_avatar({"text": "spy:echo"})
    with pytest.raises(NoAvatar, match="has no image model"):
        rex.respond("Hi", output_modalities=["text", "image"])
    with pytest.raises(InvalidArgument, match=r"'smell'.*text, voice, video, image"):
        rex.respond("Hi", output_modalities=["text", "smell"])
    with pytest.raises(InvalidArgument, match="input is empty"):
        rex.respond("   ")
    with pytest.raises(InvalidArgument, match="does not exist"):
        rex.respond(str(tmp_path / "missing.wav"))
    with pytest.raises(InvalidArgument, match="no conversation 999"):
        rex.respond("Hi", conversation=999)
    rex.set_avatar({"video": "together:some/video-model"})
    with pytest.raises(CapabilityNotSupported, match="local:talking-head"):
        rex.respond("Hi", output_modalities=["video"])
    assert spy.text.calls == []  # every refusal came before any model was called
    with studio.db.session() as session:
        assert session.scalars(select(Conversation)).all() == []
    assert OUTPUT_MODALITIES == ("text", "voice", "video", "image")
    assert check_modalities("voice, text") == check_modalities(["voice"]) == ("text", "voice")


def test_the_voice_table_maps_each_provider() -> None:
    local_trained = speech_arguments({"provider": "local", "model": "espeak-ng:rex"})
    assert local_trained == {"model": "espeak-ng", "voice": "espeak-ng:rex", "format": "wav"}
    assert speech_arguments({"provider": "local", "model": "espeak-ng"}) == {
        "model": "espeak-ng",
        "format": "wav",
    }
    assert speech_arguments({"provider": "local", "model": "alex"})["voice"] == "alex"
    custom = speech_arguments({"provider": "openai", "model": "voice_abc"})
    assert custom == {"model": "gpt-4o-mini-tts", "voice": "voice_abc", "format": "wav"}
    assert speech_arguments({"provider": "openai", "model": "tts-1", "voice": "onyx"})["model"] == "tts-1"
    with pytest.raises(NoAvatar, match="names no voice"):
        speech_arguments({"provider": "openai", "model": "gpt-4o-mini-tts"})
    sonic = speech_arguments({"provider": "together", "model": "cartesia/sonic:friendly sidekick"})
    assert sonic == {"model": "cartesia/sonic", "voice": "friendly sidekick", "format": "wav"}
    with pytest.raises(NoAvatar, match=r"together:cartesia/sonic:<voice>"):
        speech_arguments({"provider": "together", "model": "cartesia/sonic"})


# ---- the vendor fakes: Together text, OpenAI custom voice ------------------------------------------------


def test_together_text_and_an_openai_custom_voice(
    database_url: str, tmp_path: Path, fake_together: Any, fake_openai: Any, local: Any
) -> None:
    sample = local.audio.speak(text="Family comes first, always.", voice="leo").audio
    consent = local.audio.speak(text="I agree to a synthetic voice of mine.", voice="leo").audio
    openai = OpenAIAdapter(api_key=fake_openai.api_key, base_url=fake_openai.base_url)
    together = TogetherAdapter(api_key=fake_together.api_key, base_url=fake_together.base_url)
    voice_id = openai.fine_tuning.voice.train(samples=[sample], consent=consent, name="Rex").result_model
    assert voice_id is not None and voice_id.startswith("voice_")

    with Studio(
        database_url, data_dir=tmp_path / "studio", providers={"together": together, "openai": openai}
    ) as studio:
        rex = studio.personas.create("rex", description="A gruff driver.")
        rex.set_avatar(
            {"text": "together:meta-llama/Llama-3.3-70B-Instruct-Turbo", "voice": f"openai:{voice_id}"}
        )
        first = rex.respond("What matters most?", output_modalities=["text", "voice"], max_tokens=64)
        second = rex.respond("Why?", conversation=first.conversation_id)

    assert first.text == "Echo: What matters most?" and second.text == "Echo: Why?"
    chats = [r.json for r in fake_together.requests if r.path == "/v1/chat/completions"]
    assert chats[0]["model"] == "meta-llama/Llama-3.3-70B-Instruct-Turbo" and chats[0]["max_tokens"] == 64
    assert (
        chats[0]["messages"][0]["role"] == "system"
        and "A gruff driver." in chats[0]["messages"][0]["content"]
    )
    assert chats[1]["messages"][1:] == [
        {"role": "user", "content": "What matters most?"},
        {"role": "assistant", "content": "Echo: What matters most?"},
        {"role": "user", "content": "Why?"},
    ]
    speech = [r.json for r in fake_openai.requests if r.path == "/v1/audio/speech"]
    assert speech == [
        {
            "model": "gpt-4o-mini-tts",
            "input": "Echo: What matters most?",
            "voice": {"id": voice_id},
            "response_format": "wav",
        }
    ]
    assert first.voice is not None and second.voice is None
    assert (
        _wav_duration(first.voice.data) > 0.5 and first.voice.path is not None and first.voice.path.is_file()
    )
    assert first.models["voice"] == {"provider": "openai", "model": voice_id, "voice": voice_id}
    assert first.costs.keys() == {"text", "voice"}
    if all(c is not None for c in first.costs.values()):
        assert first.cost == pytest.approx(sum(c or 0.0 for c in first.costs.values()))
    else:
        assert first.cost is None


def test_arespond_answers_off_the_event_loop(spy_studio: tuple[Studio, SpyAdapter]) -> None:
    import asyncio

    studio, spy = spy_studio
    rex = studio.personas.create("rex")
    rex.set_avatar({"text": "spy:echo"})
    answer = asyncio.run(rex.arespond("Hi", output_modalities="text"))
    assert answer.text == "Family first. You asked: Hi" and len(spy.text.calls) == 1
    assert conversation_history(rex, answer.conversation_id)[1].text == answer.text
