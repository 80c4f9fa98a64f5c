"""The persona commands: persona, samples, consent, avatar, runs, respond, and the offline demo.

Each command runs through Typer's CliRunner on a fresh database (SQLite file and PostgreSQL) with its
data folder in the test's tmp; errors must come out as one red message with exit status 1.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from polyface.cli.app import app

runner = CliRunner(env={"COLUMNS": "200"})
CHAT = "meta-llama/Llama-3.3-70B-Instruct-Turbo"

ROWS = [
    {"user": "What matters most?", "assistant": "Listen, kid. Family. Always family."},
    {"user": "Where are you going?", "assistant": "Listen, kid. Wherever the load goes, then home."},
    {"user": "Do you cook?", "assistant": "Listen, kid. Only pancakes, and only for my family."},
    {"user": "What is home?", "assistant": "Listen, kid. Home is wherever my family is waiting."},
    {"user": "Can I trust you?", "assistant": "Listen, kid. I treat my word like family. I keep it."},
]


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> Iterator[Any]:
    """``cli("persona", "list")``: the command on this test's database and data folder."""
    base = ["--database", database_url, "--data-dir", str(tmp_path / "data")]

    def invoke(*args: str, input: str | None = None) -> Any:
        return runner.invoke(app, [*base, *args], input=input)

    yield invoke


def studio_for(database_url: str, tmp_path: Path) -> Any:
    from polyface.persona.studio import Studio

    return Studio(database_url, data_dir=tmp_path / "data")


def clean_error(result: Any, *needles: str) -> None:
    """Exit status 1, each needle in the output, and no traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # not an exception escaping
    assert "Traceback" not in result.output and "error:" in result.output, result.output
    text = " ".join(result.output.split())
    for needle in needles:
        assert needle in text, (needle, result.output)


def write_dialogue(path: Path) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return path


def write_voice(path: Path, line: str = "Listen, kid. Family comes first, always.") -> Path:
    from polyface.cli.demo_assets import speak

    path.write_bytes(speak(line, {"variant": "m2", "pitch": 32, "range": 40, "rate": 150}))
    return path


def write_portrait(path: Path) -> Path:
    from polyface.cli.demo_assets import rex_profile
    from polyface.providers.local.portrait import PortraitRenderer, PortraitSpec

    PortraitRenderer(PortraitSpec(**rex_profile()["portrait"]), 128, 128).image().save(path)
    return path


# ---- persona -------------------------------------------------------------------------------------------


def test_persona_create_list_show_delete(cli: Any) -> None:
    created = cli("persona", "create", "rex", "--description", "A gruff driver", "--system-prompt", "Be Rex.")
    assert created.exit_code == 0, created.output
    assert "created persona rex" in created.output
    assert cli("persona", "create", "ada").exit_code == 0

    listed = cli("persona", "list")
    assert listed.exit_code == 0, listed.output
    names = [line.split()[1] for line in listed.output.splitlines() if line.startswith("│")]
    assert names == ["ada", "rex"]
    assert "A gruff driver" in listed.output

    shown = cli("persona", "show", "rex")
    assert shown.exit_code == 0, shown.output
    assert "A gruff driver" in shown.output and "Be Rex." in shown.output
    assert "none recorded" in shown.output and "none yet" in shown.output

    clean_error(cli("persona", "create", "rex"), "already exists")
    clean_error(cli("persona", "create", "Not A Name"), "is not usable")

    refused = cli("persona", "delete", "rex", input="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.output
    deleted = cli("persona", "delete", "rex", "--yes")
    assert deleted.exit_code == 0, deleted.output
    after = cli("persona", "list")
    assert " rex " not in after.output and " ada " in after.output
    clean_error(cli("persona", "delete", "rex", "--yes"), "no persona called 'rex'", "personas: ada")


def test_unknown_persona_is_one_clean_error_everywhere(cli: Any, tmp_path: Path) -> None:
    dialogue = write_dialogue(tmp_path / "d.jsonl")
    for args in (
        ("persona", "show", "ghost"),
        ("samples", "add", "ghost", "--text", str(dialogue)),
        ("samples", "list", "ghost"),
        ("consent", "record", "ghost", "--subject", "G"),
        ("avatar", "plan", "ghost", "--text", "local"),
        ("avatar", "status", "ghost"),
        ("avatar", "rollback", "ghost"),
        ("runs", "list", "--persona", "ghost"),
        ("respond", "ghost", "hello"),
    ):
        clean_error(cli(*args), "no persona called 'ghost'", "polyface persona create ghost")


def test_a_database_that_cannot_be_opened_is_a_clean_error(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["--database", "nosuchdb://x", "--data-dir", str(tmp_path), "persona", "list"]
    )
    clean_error(result, "cannot use database URL")


def test_a_bug_is_one_line_not_a_traceback(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from polyface.persona.studio import Personas

    def broken(self: Any) -> Any:
        raise RuntimeError("boom at sk-abcdefghijklmnopqrstuvwx")

    monkeypatch.setattr(Personas, "list", broken)
    result = cli("persona", "list")
    clean_error(result, "unexpected RuntimeError: boom", "POLYFACE_DEBUG=1")
    assert "abcdefghijklmnopqrstuvwx" not in result.output  # a key in a message is redacted
    monkeypatch.setenv("POLYFACE_DEBUG", "1")
    assert isinstance(cli("persona", "list").exception, RuntimeError)


def test_the_environment_names_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("POLYFACE_DATABASE_URL", url)
    assert runner.invoke(app, ["persona", "create", "envy"]).exit_code == 0
    assert (tmp_path / "env.db").is_file()
    listed = runner.invoke(app, ["--database", url, "persona", "list"])
    assert "envy" in listed.output


# ---- samples and consent ---------------------------------------------------------------------------------


def test_samples_add_keeps_the_good_files_and_lists_the_bad_one(cli: Any, tmp_path: Path) -> None:
    assert cli("persona", "create", "rex").exit_code == 0
    voice = tmp_path / "voice"
    voice.mkdir()
    write_voice(voice / "one.wav")
    write_voice(voice / "two.wav", "Keep your word and check your tires.")
    (voice / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    dialogue = write_dialogue(tmp_path / "dialogue.jsonl")
    portrait = write_portrait(tmp_path / "face.png")

    result = cli(
        "samples", "add", "rex", "--text", str(dialogue), "--audio", str(voice),
        "--images", str(portrait), "--images", str(tmp_path / "missing.png"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = {
        line.split()[1]: line.split()[3:6:2] for line in result.output.splitlines() if line.startswith("│")
    }
    assert rows["text"][0] == "5" and rows["audio"][0] == "2" and rows["image"][0] == "1"
    text = " ".join(result.output.split())
    assert re.search(r"rejected \S*broken\.wav: ", text), result.output
    assert "missing.png" in text

    again = cli("samples", "add", "rex", "--text", str(dialogue))
    assert again.exit_code == 0 and re.search(r"│ text\s+│\s+0 │\s+5 │", again.output), again.output

    listed = cli("samples", "list", "rex", "--modality", "audio")
    assert listed.exit_code == 0, listed.output
    assert "one.wav" in listed.output and "two.wav" in listed.output and "broken" not in listed.output
    assert re.search(r"\d\.\d s", listed.output)
    every = cli("samples", "list", "rex")
    assert every.output.count("│ text ") == 5

    only_bad = cli("samples", "add", "rex", "--audio", str(voice / "broken.wav"))
    clean_error(only_bad, "broken.wav")
    clean_error(cli("samples", "add", "rex"), "nothing to add")


def test_consent_record_list_and_revoke(cli: Any, tmp_path: Path) -> None:
    assert cli("persona", "create", "rex").exit_code == 0
    form = tmp_path / "consent.txt"
    form.write_text("I, Rex Harbor, agree.")
    recorded = cli(
        "consent",
        "record",
        "rex",
        "--subject",
        "Rex Harbor",
        "--uses",
        "voice, image",
        "--evidence",
        str(form),
    )
    assert recorded.exit_code == 0, recorded.output
    assert "Rex Harbor for image, voice" in recorded.output and "evidence" in recorded.output
    shown = cli("persona", "show", "rex")
    assert "Rex Harbor for image, voice" in shown.output

    clean_error(
        cli("consent", "record", "rex", "--subject", "Rex", "--uses", "smell"), "uses must be some of"
    )
    clean_error(
        cli("consent", "record", "rex", "--subject", "Rex", "--evidence", str(tmp_path / "nope.pdf")),
        "is not a file",
    )
    assert cli("consent", "revoke", "rex", "1").exit_code == 0
    assert "Rex Harbor" not in cli("consent", "list", "rex").output
    assert "Rex Harbor" in cli("consent", "list", "rex", "--all").output


# ---- avatar ----------------------------------------------------------------------------------------------


def test_avatar_plan_prints_provider_base_model_samples_and_cost(cli: Any, tmp_path: Path) -> None:
    assert cli("persona", "create", "rex").exit_code == 0
    assert cli("samples", "add", "rex", "--text", str(write_dialogue(tmp_path / "d.jsonl"))).exit_code == 0

    plan = cli(
        "avatar", "plan", "rex", "--text", "together:meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
        "--audio", "local",
    )  # fmt: skip
    assert plan.exit_code == 0, plan.output
    rows = {line.split()[1]: line for line in plan.output.splitlines() if line.startswith("│")}
    assert "together" in rows["text"] and "Meta-Llama-3.1-8B-Instruct-Reference" in rows["text"]
    assert re.search(r"│\s+5 │", rows["text"]) and "unknown" in rows["text"]  # priced at submission
    assert "pocketsphinx-en-us" in rows["audio"] and "$0.00" in rows["audio"]
    assert "estimated total: $0.00" in plan.output

    clean_error(cli("avatar", "plan", "rex"), "choose at least one modality")
    clean_error(cli("avatar", "plan", "rex", "--image", "local"), "no image samples")
    clean_error(cli("avatar", "plan", "rex", "--text", "nosuch"), "nosuch")


def test_train_activate_status_rollback_and_runs(cli: Any, tmp_path: Path) -> None:
    assert cli("persona", "create", "rex").exit_code == 0
    assert cli("samples", "add", "rex", "--images", str(write_portrait(tmp_path / "face.png"))).exit_code == 0
    clean_error(cli("avatar", "train", "rex", "--image", "local"), "consent")
    assert cli("runs", "list").output.strip() == "no training runs"

    assert cli("consent", "record", "rex", "--subject", "Rex Harbor", "--uses", "image").exit_code == 0
    trained = cli("avatar", "train", "rex", "--image", "local", "--budget", "1")
    assert trained.exit_code == 0, trained.output
    assert "succeeded" in trained.output and "avatar v1 is active" in trained.output
    model = re.search(r"image local:(portrait:\S+)", trained.output)
    assert model, trained.output

    runs = cli("runs", "list", "--persona", "rex")
    assert runs.exit_code == 0 and runs.output.count("succeeded") == 1 and model.group(1) in runs.output
    assert cli("runs", "list", "--status", "failed").output.strip() == "no training runs"
    run_id = re.search(r"│ ([0-9a-f]{24}) ", runs.output)
    assert run_id, runs.output
    assert cli("runs", "watch").output.startswith("no runs are going")
    watched = cli("runs", "watch", run_id.group(1))
    assert watched.exit_code == 0 and "succeeded" in watched.output
    clean_error(cli("runs", "watch", "f" * 24), "no training run")
    clean_error(cli("runs", "cancel", "f" * 24), "no training run")
    assert "nothing to resume" in cli("runs", "resume").output

    second = cli("avatar", "set", "rex", "text=local:smollm2-135m-instruct", "--note", "by hand")
    assert second.exit_code == 0 and "avatar v2 is active" in second.output
    assert model.group(1) in second.output  # the image is carried over
    status = cli("avatar", "status", "rex")
    assert status.exit_code == 0
    assert re.search(r"v2\s+│ active", status.output) and "by hand" in status.output
    back = cli("avatar", "rollback", "rex")
    assert back.exit_code == 0 and "avatar v1 is active" in back.output
    assert cli("avatar", "activate", "rex", "2").exit_code == 0
    clean_error(cli("avatar", "activate", "rex", "9"), "no avatar version 9")
    clean_error(cli("avatar", "set", "rex", "text=oops"), "name the provider and the model")


def test_runs_resume_submits_what_a_crash_left_planned(
    cli: Any, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from polyface.persona import training

    assert cli("persona", "create", "rex").exit_code == 0
    assert cli("samples", "add", "rex", "--images", str(write_portrait(tmp_path / "face.png"))).exit_code == 0
    assert cli("consent", "record", "rex", "--subject", "Rex Harbor", "--uses", "image").exit_code == 0
    with studio_for(database_url, tmp_path) as studio, monkeypatch.context() as crash:
        crash.setattr(training, "submit", lambda *a, **k: None)  # recorded, never sent: the crash
        persona = studio.personas.get("rex")
        persona.avatar.train(persona.avatar.plan(image="local"))
    assert re.search(r"│ image .*│ planned ", cli("runs", "list").output)

    resumed = cli("runs", "resume")
    assert resumed.exit_code == 0, resumed.output
    assert "resumed 1 run(s)" in resumed.output and re.search(r"│ image .*│ succeeded ", resumed.output)
    assert "nothing to resume" in cli("runs", "resume").output


@pytest.fixture
def together_env(fake_together: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The CLI's ``together`` provider is the Together fake (through the environment, as a user sets it)."""
    monkeypatch.setenv("TOGETHER_API_KEY", fake_together.api_key)
    monkeypatch.setenv("TOGETHER_BASE_URL", fake_together.base_url)
    return fake_together


def test_train_on_a_vendor_without_waiting_then_list_and_cancel(
    cli: Any, tmp_path: Path, together_env: Any
) -> None:
    assert cli("persona", "create", "rex").exit_code == 0
    assert cli("samples", "add", "rex", "--text", str(write_dialogue(tmp_path / "d.jsonl"))).exit_code == 0
    clean_error(cli("avatar", "train", "rex", "--audio", "local", "--no-wait"), "leave out --no-wait")
    assert cli("runs", "list").output.strip() == "no training runs"  # refused before anything was sent

    started = cli("avatar", "train", "rex", "--text", "together", "--no-wait")
    assert started.exit_code == 0, started.output
    run_id = re.search(r"polyface runs watch ([0-9a-f]+)", started.output)
    assert run_id, started.output
    assert len(together_env.fine_tunes) == 1
    listed = cli("runs", "list")
    assert re.search(rf"{run_id.group(1)}.*│ text .*│ together .*│ running ", listed.output), listed.output

    cancelled = cli("runs", "cancel", run_id.group(1))
    assert cancelled.exit_code == 0 and "cancelled" in cancelled.output, cancelled.output
    assert "cancelled" in cli("runs", "list", "--status", "cancelled").output
    assert "no runs are going" in cli("runs", "watch").output


# ---- respond -----------------------------------------------------------------------------------------


def test_respond_in_text_voice_and_image_on_a_mapping_avatar(
    cli: Any, database_url: str, tmp_path: Path, together_env: Any
) -> None:
    assert cli("persona", "create", "rex", "--system-prompt", "You are Rex, a truck driver.").exit_code == 0
    clean_error(cli("respond", "rex", "hello"), "has no avatar yet")
    with studio_for(database_url, tmp_path) as studio:
        studio.personas.get("rex").set_avatar(
            {"text": f"together:{CHAT}", "voice": "local:espeak-ng", "image": "local:portrait"}
        )
    out = tmp_path / "out"
    result = cli("respond", "rex", "Say hello.", "--out", "text,voice,image", "--save-to", str(out))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "Echo: Say hello."  # the answer's text comes first
    found = dict(re.findall(r"^(voice|image): (\S+)$", result.output, flags=re.M))
    voice, image = Path(found["voice"]), Path(found["image"])
    assert voice.parent == out and voice.read_bytes()[:4] == b"RIFF"
    assert image.parent == out and image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    stored = cli("respond", "rex", "Again.", "--out", "voice")
    assert stored.exit_code == 0, stored.output
    path = Path(re.findall(r"^voice: (\S+)$", stored.output, flags=re.M)[0])
    assert path.is_file() and (tmp_path / "data") in path.parents  # the stored file itself
    clean_error(cli("respond", "rex", "hi", "--out", "smell"), "smell")


# ---- the demo ----------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_demo_runs_from_nothing_and_prints_where_each_output_is(tmp_path: Path) -> None:
    start = time.monotonic()
    folder = tmp_path / "demo"
    result = runner.invoke(app, ["--data-dir", str(folder), "demo"])
    elapsed = time.monotonic() - start
    assert result.exit_code == 0, result.output
    voices = [Path(p) for p in re.findall(r"^\s*voice: (\S+\.wav)$", result.output, flags=re.M)]
    videos = [Path(p) for p in re.findall(r"^\s*video: (\S+\.mp4)$", result.output, flags=re.M)]
    assert len(voices) == 2 and len(videos) == 2, result.output
    for path in voices + videos:
        assert path.is_file() and folder in path.parents
    from polyface.media.ffmpeg import probe

    info = probe(videos[0])
    assert info.video is not None and info.audio is not None and (info.duration or 0) > 0.5
    answers = re.findall(r"^\s*rex: (.+)$", result.output, flags=re.M)
    assert len(answers) == 2 and all(a.strip() for a in answers)
    assert elapsed < 540, elapsed
    listed = runner.invoke(app, ["--data-dir", str(folder), "persona", "list"])
    assert re.search(r"│ rex .*│ v1 ", listed.output), listed.output


def test_the_demo_makes_rex_afresh_when_run_again(studio: Any, tmp_path: Path) -> None:
    from rich.console import Console

    from polyface.cli.demo import fresh_persona
    from polyface.cli.demo_assets import RexSamples, rex_profile

    samples = RexSamples(folder=tmp_path, profile=rex_profile(), dialogue=tmp_path / "d.jsonl")
    old = fresh_persona(studio, samples, Console(file=None, quiet=True))
    old.consent.record("Rex Harbor", ["voice"])
    console = Console(record=True, width=200)
    new = fresh_persona(studio, samples, console)
    assert "deleted the persona 'rex' an earlier demo made" in console.export_text()
    assert studio.personas.names() == ["rex"]
    assert new.consent.list() == [] and "family and loyalty" in new.info().description


def test_the_demo_samples_are_what_training_accepts(tmp_path: Path) -> None:
    from polyface.cli.demo_assets import make_rex_samples
    from polyface.media.acoustics import read_wav
    from polyface.media.ffmpeg import probe

    samples = make_rex_samples(tmp_path / "rex")
    assert len(samples.voice) == 6 and len(samples.images) == 3 and len(samples.clips) == 3
    assert all(read_wav(p).duration > 1.5 for p in samples.voice)
    assert all(p.with_suffix(".txt").read_text().strip() for p in samples.voice)  # transcripts beside
    clip = probe(samples.clips[0])
    assert clip.video is not None and clip.video.width == 256 and clip.audio is not None
    assert sum(1 for _ in samples.dialogue.open()) == 48
    again = make_rex_samples(tmp_path / "rex")  # replaces what an earlier run left
    assert sorted(p.name for p in again.folder.rglob("*")) == sorted(
        p.name for p in samples.folder.rglob("*")
    )


def test_the_provider_showcase_is_still_there() -> None:
    result = runner.invoke(app, ["demo", "--providers"])
    assert result.exit_code == 0, result.output
    assert "2 retries" in result.output and "32 replies" in result.output
