"""Persona samples: import and validation per modality, dedup, removal, and conversion for trainers.

Every test runs on SQLite and PostgreSQL (the ``studio`` fixture). Media is made here: numpy WAVs,
Pillow images, and MP4 clips from ``polyface.media.ffmpeg.encode_mp4``.
"""

from __future__ import annotations

import hashlib
import io
import json
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from polyface.errors import InvalidArgument
from polyface.media import ffmpeg
from polyface.persona import datasets
from polyface.persona.tables import MediaBlob

# ---- test media --------------------------------------------------------------------------------------


def make_wav(
    seconds: float, *, rate: int = 16000, channels: int = 1, freq: float = 220.0, level: float = 0.3
) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    mono = (level * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2")
    frames = np.repeat(mono[:, None], channels, axis=1)
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(frames.tobytes())
    return out.getvalue()


def make_image(
    width: int, height: int, fmt: str = "PNG", color: tuple[int, int, int] = (200, 150, 120)
) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", (width, height), color)
    image.paste((40, 40, 40), (width // 4, height // 4, width // 2, height // 2))
    image.save(out, format=fmt)
    return out.getvalue()


def make_mp4(path: Path, seconds: float, *, size: int = 64, audio: bytes | None = None) -> Path:
    fps = 25
    frames = [np.full((size, size, 3), (i * 7) % 255, np.uint8) for i in range(max(1, int(seconds * fps)))]
    return ffmpeg.encode_mp4(frames, path, width=size, height=size, fps=fps, audio=audio)


def reasons(report: Any) -> dict[str, str]:
    return {Path(p.source).name: p.reason for p in report.rejected}


def added_names(report: Any) -> list[str]:
    return sorted(Path(s.source).name for s in report.added)


# ---- audio --------------------------------------------------------------------------------------------


def test_audio_folder_keeps_the_good_files_and_says_why_each_bad_one_is_refused(
    studio: Any, tmp_path: Path
) -> None:
    rex = studio.personas.create("rex")
    voice = tmp_path / "voice"
    voice.mkdir()
    good = make_wav(1.5)
    (voice / "good.wav").write_bytes(good)
    (voice / "stereo.wav").write_bytes(make_wav(2.0, rate=48000, channels=2, freq=330))
    (voice / "good.txt").write_text("Family first, always.\n")  # a transcript, not a sample
    ffmpeg.run(["-y", "-i", str(voice / "stereo.wav"), str(voice / "line.mp3")], what="making an mp3")
    (voice / "truncated.wav").write_bytes(make_wav(2.0, freq=200)[:20000])
    (voice / "fake.wav").write_text("this is not a recording at all\n")
    (voice / "short.wav").write_bytes(make_wav(0.2))
    (voice / "silent.wav").write_bytes(make_wav(1.0, level=0.0))
    (voice / "notes.md").write_text("ignored: not an audio suffix")

    report = rex.samples.add_audio(voice)

    assert added_names(report) == ["good.wav", "line.mp3", "stereo.wav"]
    bad = reasons(report)
    assert set(bad) == {"truncated.wav", "fake.wav", "short.wav", "silent.wav"}
    assert "cut off" in bad["truncated.wav"] and "2.00 s" in bad["truncated.wav"]
    assert bad["fake.wav"].startswith("is text, not audio")
    assert "too short: 0.20 s" in bad["short.wav"]
    assert "silent" in bad["silent.wav"]
    assert not report.ok and "4 rejected" in str(report)

    stored = {Path(s.source).name: s for s in rex.samples.list("audio")}
    assert stored["stereo.wav"].meta == {
        "format": "wav",
        "bits": 16,
        "sample_rate": 48000,
        "channels": 2,
        "duration": 2.0,
    }
    mp3 = stored["line.mp3"]
    assert mp3.meta["format"] == "mp3" and mp3.meta["sample_rate"] == 48000 and mp3.meta["channels"] == 2
    assert mp3.duration is not None and 1.9 < mp3.duration < 2.2
    assert stored["good.wav"].text == "Family first, always."  # the sidecar transcript
    # the original bytes are stored (an MP3 stays an MP3), and read back whole
    assert rex.samples.read(stored["good.wav"].id) == good
    assert rex.samples.read(mp3.id) == (voice / "line.mp3").read_bytes()
    assert stored["good.wav"].path is not None and stored["good.wav"].path.read_bytes() == good
    assert rex.samples.count() == 3 and rex.samples.count("audio") == 3 and rex.samples.count("image") == 0


def test_same_recording_twice_is_stored_once(studio: Any, tmp_path: Path) -> None:
    rex = studio.personas.create("rex")
    data = make_wav(1.0)
    (tmp_path / "a.wav").write_bytes(data)
    (tmp_path / "copy.wav").write_bytes(data)

    first = rex.samples.add_audio(tmp_path / "a.wav")
    again = rex.samples.add_audio([tmp_path / "a.wav", tmp_path / "copy.wav", data])

    assert len(first.added) == 1 and again.added == []
    assert sorted(Path(d).name for d in again.duplicates[:2]) == ["a.wav", "copy.wav"]
    assert again.duplicates[2].startswith("<bytes")
    assert rex.samples.count() == 1
    with studio.db.session() as session:
        assert session.scalar(select(func.count()).select_from(MediaBlob)) == 1
    assert first.added[0].checksum == hashlib.sha256(data).hexdigest() == first.added[0].media_sha256


def test_glob_list_and_bytes_sources(studio: Any, tmp_path: Path) -> None:
    rex = studio.personas.create("rex")
    folder = tmp_path / "takes"
    folder.mkdir()
    for i in range(3):
        (folder / f"take{i}.wav").write_bytes(make_wav(1.0, freq=200 + 50 * i))
    (tmp_path / "extra.wav").write_bytes(make_wav(1.0, freq=500))

    by_glob = rex.samples.add_audio(str(folder / "take[01].wav"))
    assert added_names(by_glob) == ["take0.wav", "take1.wav"]
    mixed = rex.samples.add_audio(
        [str(folder), tmp_path / "extra.wav", make_wav(0.8, freq=640), "nowhere/*.wav", "missing.wav"]
    )
    assert sorted(Path(s.source).name for s in mixed.added) == ["<bytes #3>", "extra.wav", "take2.wav"]
    assert sorted(Path(d).name for d in mixed.duplicates) == ["take0.wav", "take1.wav"]
    assert reasons(mixed) == {
        "*.wav": "the pattern matches no files",
        "missing.wav": "does not exist; pass a file, a folder, a glob or a list of them",
    }
    assert rex.samples.count("audio") == 5
    with pytest.raises(InvalidArgument, match="cannot import samples from a int"):
        rex.samples.add_audio(42)  # type: ignore[arg-type]


def test_size_limit_is_checked_before_reading(
    studio: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from polyface.persona import samples

    rex = studio.personas.create("rex")
    monkeypatch.setitem(samples.MAX_BYTES, "audio", 10_000)
    (tmp_path / "long.wav").write_bytes(make_wav(1.0))  # 32 kB
    report = rex.samples.add_audio(tmp_path / "long.wav")
    assert report.added == []
    assert reasons(report)["long.wav"].endswith("audio files may be at most 0 MiB (trim or re-encode it)")


# ---- removal ------------------------------------------------------------------------------------------


def test_removing_a_sample_keeps_a_blob_another_persona_uses(studio: Any, tmp_path: Path) -> None:
    rex, mia = studio.personas.create("rex"), studio.personas.create("mia")
    data = make_wav(1.0)
    (tmp_path / "shared.wav").write_bytes(data)
    rex_sample = rex.samples.add_audio(tmp_path / "shared.wav").added[0]
    mia_sample = mia.samples.add_audio(tmp_path / "shared.wav").added[0]
    assert rex_sample.media_sha256 == mia_sample.media_sha256
    blob_path = rex_sample.path
    assert blob_path is not None and blob_path.is_file()

    removed = rex.samples.remove(rex_sample.id)
    assert removed.id == rex_sample.id and rex.samples.count() == 0
    assert blob_path.is_file() and mia.samples.read(mia_sample.id) == data

    with pytest.raises(InvalidArgument, match="persona 'rex' has no sample"):
        rex.samples.remove(mia_sample.id)  # another persona's sample is not rex's to remove

    mia.samples.remove(mia_sample.id)
    assert not blob_path.exists()
    with studio.db.session() as session:
        assert session.scalar(select(func.count()).select_from(MediaBlob)) == 0


# ---- images -------------------------------------------------------------------------------------------


def test_images_by_content_with_size_and_decoding_checks(studio: Any, tmp_path: Path) -> None:
    rex = studio.personas.create("rex")
    face = tmp_path / "face"
    face.mkdir()
    (face / "portrait.png").write_bytes(make_image(128, 160))
    (face / "renamed.jpg").write_bytes(make_image(96, 96, color=(10, 200, 10)))  # a PNG named .jpg
    (face / "photo.jpeg").write_bytes(make_image(80, 64, fmt="JPEG"))
    (face / "tiny.png").write_bytes(make_image(32, 200))
    (face / "text.png").write_text("not a picture")
    (face / "cut.jpg").write_bytes(make_image(256, 256, fmt="JPEG")[:400])
    (face / "anim.webp").write_bytes(make_image(64, 64, fmt="GIF"))

    report = rex.samples.add_images(face)

    assert added_names(report) == ["photo.jpeg", "portrait.png", "renamed.jpg"]
    bad = reasons(report)
    assert bad["tiny.png"] == "is too small: 32x200 px; images need at least 64 px a side"
    assert bad["text.png"].startswith("is text, not an image")
    assert bad["cut.jpg"].startswith("cannot be decoded")
    assert bad["anim.webp"].startswith("is a GIF image; use PNG, JPEG or WebP")
    stored = {Path(s.source).name: s for s in rex.samples.list("image")}
    assert stored["renamed.jpg"].meta == {"width": 96, "height": 96, "format": "png"}
    assert stored["renamed.jpg"].path is not None and stored["renamed.jpg"].path.suffix == ".png"
    assert stored["photo.jpeg"].meta == {"width": 80, "height": 64, "format": "jpeg"}


# ---- video --------------------------------------------------------------------------------------------


def test_video_clips_measured_and_bad_ones_refused(studio: Any, tmp_path: Path) -> None:
    rex = studio.personas.create("rex")
    clips = tmp_path / "clips"
    clips.mkdir()
    make_mp4(clips / "talk.mp4", 1.0, audio=make_wav(1.0))
    make_mp4(clips / "quiet.mp4", 0.8, size=96)
    make_mp4(clips / "blink.mp4", 0.2)
    make_mp4(clips / "small.mp4", 1.0, size=32)
    full = (clips / "talk.mp4").read_bytes()
    (clips / "cut.mp4").write_bytes(full[: len(full) // 2])
    (clips / "text.mp4").write_text("a clip? no")
    (clips / "voice.mp4").write_bytes(make_wav(1.0))

    report = rex.samples.add_video(str(clips / "*.mp4"))

    assert added_names(report) == ["quiet.mp4", "talk.mp4"]
    bad = reasons(report)
    assert set(bad) == {"blink.mp4", "small.mp4", "cut.mp4", "text.mp4", "voice.mp4"}
    assert "too short: 0.20 s of video" in bad["blink.mp4"]
    assert "32x32 px" in bad["small.mp4"]
    assert "cut off" in bad["cut.mp4"]
    assert bad["text.mp4"].startswith("is text, not a video")
    assert bad["voice.mp4"].startswith("is WAV audio, not a video")
    stored = {Path(s.source).name: s for s in rex.samples.list("video")}
    talk = stored["talk.mp4"].meta
    assert (talk["width"], talk["height"], talk["fps"], talk["has_audio"]) == (64, 64, 25.0, True)
    assert talk["duration"] == pytest.approx(1.0, abs=0.05)
    assert stored["quiet.mp4"].meta["has_audio"] is False and stored["quiet.mp4"].meta["width"] == 96


# ---- text ---------------------------------------------------------------------------------------------


def test_dialogue_jsonl_keeps_the_good_lines_of_a_file_with_broken_ones(studio: Any, tmp_path: Path) -> None:
    rex = studio.personas.create("rex")
    lines = [
        json.dumps({"user": "Who are you?", "assistant": "Rex. I drive."}),
        '{"user": "broken", "assistant": ',
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "Family?"},
                    {"role": "assistant", "content": "Always."},
                ]
            }
        ),
        json.dumps({"user": "No answer here"}),
        json.dumps({"prompt": "Speed?", "completion": "Only when it counts."}),
        json.dumps({"text": "plain text rows are not dialogue"}),
        json.dumps({"user": "Who are you?", "assistant": "Rex. I drive."}),
    ]
    (tmp_path / "dialogue.jsonl").write_text("\n".join(lines) + "\n")

    report = rex.samples.add_text(tmp_path / "dialogue.jsonl")

    assert [Path(s.source).name for s in report.added] == [
        "dialogue.jsonl:1",
        "dialogue.jsonl:3",
        "dialogue.jsonl:5",
    ]
    assert [Path(d).name for d in report.duplicates] == ["dialogue.jsonl:7"]
    bad = reasons(report)
    assert set(bad) == {"dialogue.jsonl:2", "dialogue.jsonl:4", "dialogue.jsonl:6"}
    assert bad["dialogue.jsonl:2"].startswith("(line): not valid JSON")
    assert bad["dialogue.jsonl:4"] == "has no 'assistant': a dialogue row needs both 'user' and 'assistant'"
    assert bad["dialogue.jsonl:6"].startswith("is a text row")

    first = report.added[0]
    assert first.text == (
        '{"messages":[{"content":"Who are you?","role":"user"},'
        '{"content":"Rex. I drive.","role":"assistant"}]}'
    )
    assert first.checksum == hashlib.sha256(first.text.encode()).hexdigest()
    assert first.media_sha256 is None and first.path is None
    assert rex.samples.read(first.id) == first.text.encode()
    assert json.loads(report.added[2].text)["messages"][1] == {
        "role": "assistant",
        "content": "Only when it counts.",
    }
    # importing the file again adds nothing
    again = rex.samples.add_text(str(tmp_path / "*.jsonl"))
    assert again.added == [] and len(again.duplicates) == 4 and rex.samples.count("text") == 3


def test_csv_rows_in_memory_and_a_system_prompt(studio: Any, tmp_path: Path) -> None:
    rex = studio.personas.create("rex")
    (tmp_path / "lines.csv").write_text(
        'user,assistant\n"Hello, Rex.","Evening."\nWhat car?,"The Charger, of course."\nempty answer,\n'
    )
    report = rex.samples.add_text(tmp_path / "lines.csv", system="You are Rex.")
    assert len(report.added) == 2 and list(reasons(report)) == ["lines.csv:4"]
    assert json.loads(report.added[0].text)["messages"][0] == {"role": "system", "content": "You are Rex."}

    rows = rex.samples.add_text([{"input": "Plans?", "output": "Drive."}, {"user": "", "assistant": "x"}])
    assert [s.source for s in rows.added] == ["<rows>:1"]
    assert rows.rejected[0].source == "<rows>:2" and "must not be empty" in rows.rejected[0].reason


def test_plain_scripts_named_and_alternating(studio: Any, tmp_path: Path) -> None:
    rex = studio.personas.create("rex")
    (tmp_path / "scene.txt").write_text(
        "# a scene\n"
        "Dom: You came back.\n"
        "Rex: I always do.\n"
        "Family doesn't leave.\n"  # continues Rex's turn
        "Mia: Dinner?\n"
        "Dom: Later.\n"
        "REX: Now.\n"
        "\n"
        "Mia: Keys?\n"
        "Rex: In the car.\n"
    )
    named = rex.samples.add_text(tmp_path / "scene.txt")
    assert [Path(s.source).name for s in named.added] == ["scene.txt:2", "scene.txt:9"]
    assert json.loads(named.added[0].text)["messages"] == [
        {"role": "user", "content": "Dom: You came back."},
        {"role": "assistant", "content": "I always do.\nFamily doesn't leave."},
        {"role": "user", "content": "Mia: Dinner?\nDom: Later."},
        {"role": "assistant", "content": "Now."},
    ]
    assert json.loads(named.added[1].text)["messages"][0] == {"role": "user", "content": "Keys?"}

    (tmp_path / "lines.txt").write_text("Where to?\nNorth.\n\nWhy?\nBecause.\nOk\n")
    plain = rex.samples.add_text(tmp_path / "lines.txt")
    assert [json.loads(s.text)["messages"][1]["content"] for s in plain.added] == ["North.", "Because."]

    other = rex.samples.add_text(tmp_path / "scene.txt", speaker="Mia")
    assert len(other.added) == 2  # the same scene, now Mia's lines are the assistant's
    assert json.loads(other.added[1].text)["messages"] == [
        {"role": "assistant", "content": "Keys?"},
        {"role": "user", "content": "In the car."},
    ]
    nobody = rex.samples.add_text(tmp_path / "scene.txt", speaker="Letty")
    assert (
        nobody.added == [] and "no turns by 'Letty' (speakers: Dom, Mia, Rex)" in reasons(nobody)["scene.txt"]
    )


# ---- conversion for trainers --------------------------------------------------------------------------


def test_datasets_for_trainers(studio: Any, tmp_path: Path) -> None:
    rex = studio.personas.create("rex", system_prompt="You are Rex, a gruff driver.")
    rex.samples.add_text(
        [
            {"user": "Hi", "assistant": "Hey."},
            {"messages": [{"role": "system", "content": "Own."}, {"role": "user", "content": "Q"},
                          {"role": "assistant", "content": "A."}]},
        ]
    )  # fmt: skip
    (tmp_path / "take.wav").write_bytes(make_wav(1.0))
    (tmp_path / "take.txt").write_text("Ride or die.")
    ffmpeg.run(
        ["-y", "-i", str(tmp_path / "take.wav"), "-ac", "2", str(tmp_path / "other.flac")], what="flac"
    )
    audio = rex.samples.add_audio([tmp_path / "take.wav", tmp_path / "other.flac"])
    rex.samples.add_images(make_image(64, 64, fmt="JPEG"))
    make_mp4(tmp_path / "clip.mp4", 0.6)
    rex.samples.add_video(tmp_path / "clip.mp4")
    persona_id = rex.id

    rows, ids = datasets.text_samples(studio, persona_id)
    assert rows[0]["messages"][0] == {"role": "system", "content": "You are Rex, a gruff driver."}
    assert rows[1]["messages"][0] == {"role": "system", "content": "Own."}  # a row's own system message wins
    assert ids == [s.id for s in rex.samples.list("text")]
    assert datasets.text_rows(studio, persona_id, system="")[0]["messages"][0]["role"] == "user"

    wavs, audio_ids = datasets.audio_files(studio, persona_id, tmp_path / "work")
    assert audio_ids == [s.id for s in audio.added]
    for path in wavs:
        with wave.open(str(path)) as reader:
            assert reader.getsampwidth() == 2 and reader.getframerate() == 16000
    assert wavs[0].read_bytes() == (tmp_path / "take.wav").read_bytes()
    with wave.open(str(wavs[1])) as reader:
        assert reader.getnchannels() == 2  # the FLAC, converted
    images, _ = datasets.image_files(studio, persona_id, tmp_path / "work")
    videos, _ = datasets.video_files(studio, persona_id, tmp_path / "work")
    assert [p.suffix for p in images] == [".jpg"] and [p.suffix for p in videos] == [".mp4"]
    assert videos[0].read_bytes() == (tmp_path / "clip.mp4").read_bytes()

    texts, text_ids = datasets.texts_for_recognizer(studio, persona_id)
    assert texts == ["Hey.", "A.", "Ride or die."]
    assert text_ids == [*ids, audio.added[0].id]

    summary = datasets.summary(studio, persona_id)
    assert summary["text"]["count"] == 2 and summary["text"]["tokens"] > 0
    assert summary["audio"] == {"count": 2, "seconds": pytest.approx(2.0, abs=0.1)}
    assert summary["image"] == {"count": 1, "seconds": 0.0}
    assert summary["video"]["count"] == 1 and summary["video"]["seconds"] == pytest.approx(0.6, abs=0.05)


def test_text_folder_with_unreadable_files_and_progress(studio: Any, tmp_path: Path) -> None:
    rex = studio.personas.create("rex")
    folder = tmp_path / "dialogue"
    (folder / "more").mkdir(parents=True)
    (folder / "a.jsonl").write_text(json.dumps({"user": "Hi", "assistant": "Yo."}) + "\n")
    (folder / "more" / "b.json").write_text(json.dumps([{"user": "Car?", "assistant": "Mine."}]))
    (folder / "broken.json").write_text("[{not json")
    (folder / "latin1.csv").write_bytes("user,assistant\ncaf\xe9,ok\n".encode("latin-1"))
    (folder / "notes.md").write_text("skipped: not a dialogue suffix")
    (tmp_path / "notes.md").write_text("Rex: named explicitly, so it is checked")
    seen: list[tuple[int, int]] = []

    report = rex.samples.add_text(
        [folder, tmp_path / "notes.md"], progress=lambda done, total: seen.append((done, total))
    )

    assert [Path(s.source).name for s in report.added] == ["a.jsonl:1", "b.json:1"]
    bad = reasons(report)
    assert set(bad) == {"broken.json", "latin1.csv", "notes.md"}
    assert bad["broken.json"].startswith("not valid JSON")
    assert bad["latin1.csv"] == "is not UTF-8 text (byte 0xe9 at offset 18); save it as UTF-8"
    assert bad["notes.md"].startswith("is not a dialogue file; use .jsonl, .json, .csv or .txt")
    assert seen == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]


def test_a_deleted_persona_takes_no_samples(studio: Any, tmp_path: Path) -> None:
    from polyface.persona.errors import PersonaNotFound

    rex = studio.personas.create("rex")
    samples = rex.samples
    studio.personas.delete("rex")
    with pytest.raises(PersonaNotFound, match="no persona called 'rex'"):
        samples.add_audio(make_wav(1.0))
    with pytest.raises(PersonaNotFound):
        samples.add_text([{"user": "Hi", "assistant": "Yo."}])
    with pytest.raises(PersonaNotFound):
        datasets.summary(studio, rex.id)
