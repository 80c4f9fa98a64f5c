"""Crash safety: a process training an avatar (text on the Together fake, voice on the OpenAI fake, the
recognizer on ``local``) or importing samples is SIGKILLed at random points (seeded) and at chosen ones (while
a fake holds the job-creating request: the provider acts, the process never hears back). A new process then
resumes (``studio.runs.resume()`` or ``polyface runs resume``) or imports again, and:

* every modality finishes, each provider job made exactly once (jobs counted at the fakes and in the local
  job folder); the one documented exception, a crash while OpenAI makes a voice (it cannot be listed),
  ends as a clear failure, never a second voice;
* every media row's file exists with the bytes its SHA-256 names; after ``collect_garbage`` the store
  holds no file without a row, no unfinished write, and no training work folder is left;
* no sample is stored twice and none is lost.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from _crash_harness import Child, eventually, media_problems, noise_png, sample_problems, tone_wav

from polyface import OpenAIAdapter, TogetherAdapter
from polyface.persona.studio import Studio
from polyface.persona.training import marker
from polyface.testing.fake_together import FakeServer

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

TOGETHER_BASE = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
PLAN: dict[str, Any] = {
    "text": f"together:{TOGETHER_BASE}",
    "voice": "openai",
    "audio": "local",  # the recognizer learns the persona's words: ~1.5 s with one held-out phrase
    "parameters": {"audio": {"held_out": ["family comes first"]}},
}
TEXT_ROWS = 20


# ---- set-up ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three recordings of the voice and a spoken consent statement (different bytes)."""
    folder = tmp_path_factory.mktemp("voice")
    return [tone_wav(folder / f"rex_{i}.wav", seconds=1.5, hz=110 + 7 * i, seed=i) for i in range(4)]


def _fakes_config(fake_together: FakeServer, fake_openai: FakeServer) -> dict[str, Any]:
    return {
        "together": {"api_key": fake_together.api_key, "base_url": fake_together.base_url},
        "openai": {"api_key": fake_openai.api_key, "base_url": fake_openai.base_url},
    }


def _studio(database_url: str, data_dir: Path, fake_together: FakeServer, fake_openai: FakeServer) -> Studio:
    config = _fakes_config(fake_together, fake_openai)
    return Studio(
        database_url,
        data_dir=data_dir,
        providers={
            "together": TogetherAdapter(**config["together"]),
            "openai": OpenAIAdapter(**config["openai"]),
        },
    )


@pytest.fixture
def trainable(
    database_url: str,
    tmp_path: Path,
    fake_together: FakeServer,
    fake_openai: FakeServer,
    recordings: list[Path],
) -> Iterator[dict[str, Any]]:
    """A persona with dialogue, recordings and a consent, and the child's configuration to train it."""
    data_dir = tmp_path / "studio"
    with _studio(database_url, data_dir, fake_together, fake_openai) as studio:
        rex = studio.personas.create("rex", description="A gruff driver who lives by family and loyalty.")
        text = (files("polyface.samples") / "rex_dialogue.jsonl").read_text(encoding="utf-8")
        assert (
            len(rex.samples.add_text([json.loads(line) for line in text.splitlines()][:TEXT_ROWS]).added)
            == 20
        )
        assert len(rex.samples.add_audio(recordings[:3]).added) == 3
        rex.consent.record("Rex Harbor", ["voice"], evidence=recordings[3])
    yield {
        "job": "train",
        "persona": "rex",
        "database_url": database_url,
        "data_dir": str(data_dir),
        "plan": PLAN,
        "budget_usd": 100,
        **_fakes_config(fake_together, fake_openai),
    }


# ---- what must hold after the restart -------------------------------------------------------------------


def _posts(fake: FakeServer, path: str) -> int:
    return sum(1 for r in fake.requests if r.method == "POST" and r.path == path)


def _resume(config: dict[str, Any], fake_together: FakeServer, fake_openai: FakeServer, *, cli: bool) -> None:
    """Restart: a new Studio (this process) or ``polyface runs resume`` (a new process) picks up the runs."""
    if cli:
        env = {
            **os.environ,
            "TOGETHER_API_KEY": fake_together.api_key,
            "TOGETHER_BASE_URL": fake_together.base_url,
            "OPENAI_API_KEY": fake_openai.api_key,
            "OPENAI_BASE_URL": fake_openai.base_url,
        }
        command = "from polyface.cli.app import main; main()"
        args = ["--database", config["database_url"], "--data-dir", config["data_dir"], "runs", "resume"]
        done = subprocess.run(
            [sys.executable, "-c", command, *args], env=env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode in (0, 1), done.stdout + done.stderr  # 1: a run failed (checked below)
        assert "Traceback" not in done.stderr, done.stderr
        return
    data_dir = Path(config["data_dir"])
    with _studio(config["database_url"], data_dir, fake_together, fake_openai) as studio:
        if not studio.runs.list():  # killed before the runs were recorded: nothing may have been sent
            assert (
                _posts(fake_together, "/v1/fine-tunes") == 0 and _posts(fake_openai, "/v1/audio/voices") == 0
            )
            rex = studio.personas.get("rex")
            rex.avatar.train(rex.avatar.plan(**config["plan"]), budget_usd=config["budget_usd"])
        else:
            studio.runs.resume()
        studio.runs.wait(poll_interval=0.02, timeout=120)


def _check_after_restart(
    config: dict[str, Any], fake_together: FakeServer, fake_openai: FakeServer
) -> dict[str, Any]:
    """Every modality finished, each provider job made once, media and work folders clean. Returns what
    was counted (for the report)."""
    with _studio(config["database_url"], Path(config["data_dir"]), fake_together, fake_openai) as studio:
        runs = {i.modality: i for i in studio.runs.list()}
        assert set(runs) == {"text", "voice", "audio"}
        text, voice, audio = runs["text"], runs["voice"], runs["audio"]
        # text: one Together job, the run's
        assert text.status == "succeeded", text.error
        jobs = fake_together.fine_tunes
        assert len(jobs) == 1 and _posts(fake_together, "/v1/fine-tunes") == 1
        assert text.provider_job_id == jobs[0]["id"] and marker("rex", text.id) in (text.result_model or "")
        assert len(fake_together.store.get("files", {})) == 1  # the dataset uploaded once, reused on resume
        # voice: one OpenAI voice and one consent; or the documented doubt, never a second voice
        voices = fake_openai.store.get("voices", {})
        consents = fake_openai.store.get("voice_consents", {})
        assert len(consents) == 1 and len(voices) <= 1
        if voice.status == "succeeded":
            assert list(voices) == [voice.provider_job_id] and _posts(fake_openai, "/v1/audio/voices") == 1
        else:
            assert voice.status == "failed" and "_sent_at" in voice.parameters, voice
            assert "cannot list" in (voice.error or "") and marker("rex", voice.id) in (voice.error or "")
        # audio: exactly one local job succeeded, the run's; any other died with the killed process
        local_jobs = studio.adapter("local").fine_tuning.audio.list()
        good = [j for j in local_jobs if j.status == "succeeded"]
        assert audio.status == "succeeded", audio.error
        assert [j.id for j in good] == [audio.provider_job_id]
        assert all(j.raw_status == "interrupted" for j in local_jobs if j.status != "succeeded")
        # every run records the samples it trained on (adopted ones too)
        assert len(text.sample_ids) == TEXT_ROWS and len(audio.sample_ids) >= 1
        assert voice.status != "succeeded" or len(voice.sample_ids) == 3
        # media whole, nothing orphaned, no training folder left
        assert media_problems(studio) == []
        garbage = studio.collect_garbage(older_than=0)
        assert garbage.files == [] and garbage.blobs == [] and garbage.workdirs == [], garbage
        assert sample_problems(studio, "rex") == []
        models = Path(config["data_dir"]) / "local" / "models"
        return {
            "local_staging_left": len(list(models.glob(".staging-*"))) if models.is_dir() else 0,
            "statuses": {m: i.status for m, i in runs.items()},
            "local_jobs": len(local_jobs),
            "voice_posts": _posts(fake_openai, "/v1/audio/voices"),
        }


# ---- training, killed -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("database_url", "seed"),
    [("sqlite", 1), ("sqlite", 2), ("sqlite", 3), ("sqlite", 5), ("sqlite", 6), ("postgresql", 4)],
    indirect=["database_url"],
)
def test_training_killed_at_a_random_point_resumes_without_duplicates(
    trainable: dict[str, Any],
    fake_together: FakeServer,
    fake_openai: FakeServer,
    tmp_path: Path,
    seed: int,
) -> None:
    """An uninterrupted child commits ~28 transactions while it records and submits the three runs, then
    ~50 while it follows them: it is killed a seeded instant after a seeded one of the first 40."""
    rng = random.Random(seed)
    target, jitter = rng.randint(2, 40), rng.uniform(0, 0.02)
    child = Child(trainable, tmp_path / "child.log")
    reached = child.wait_line(lambda line: line == f"commit {target}" or line == "done")
    if reached is not None and reached != "done":
        time.sleep(jitter)  # a seeded instant after that commit: somewhere in the next step
    killed = child.kill()
    with Studio(trainable["database_url"], data_dir=Path(trainable["data_dir"])) as studio:
        before = {i.modality: i.status for i in studio.runs.list()}
    _resume(trainable, fake_together, fake_openai, cli=seed == 3)
    counted = _check_after_restart(trainable, fake_together, fake_openai)
    print(
        f"seed {seed}: killed={killed} after commit {target}+{jitter * 1000:.0f}ms in {before} -> {counted}"
    )


@pytest.mark.parametrize(
    ("database_url", "held"),
    [
        ("sqlite", "/v1/fine-tunes"),
        ("sqlite", "/v1/audio/voice_consents"),
        ("postgresql", "/v1/audio/voices"),
    ],
    indirect=["database_url"],
)
def test_training_killed_while_the_provider_holds_the_request(
    trainable: dict[str, Any],
    fake_together: FakeServer,
    fake_openai: FakeServer,
    tmp_path: Path,
    held: str,
) -> None:
    """The fake holds the request; the child is killed; the fake then does the work (job, consent or voice
    made) and answers no one. Resume finds what was made instead of making it again."""
    fake = fake_together if held == "/v1/fine-tunes" else fake_openai
    fake.delay(held, 30)
    child = Child(trainable, tmp_path / "child.log")
    eventually(lambda: _posts(fake, held) == 1, f"the child's POST {held}")
    assert child.kill()
    made = {
        "/v1/fine-tunes": lambda: fake_together.fine_tunes,
        "/v1/audio/voice_consents": lambda: fake_openai.store.get("voice_consents"),
        "/v1/audio/voices": lambda: fake_openai.store.get("voices"),
    }[held]
    eventually(made, f"the fake's work on the held {held}")  # done after the client went away
    _resume(trainable, fake_together, fake_openai, cli=False)
    counted = _check_after_restart(trainable, fake_together, fake_openai)
    with _studio(
        trainable["database_url"], Path(trainable["data_dir"]), fake_together, fake_openai
    ) as studio:
        voice = next(i for i in studio.runs.list() if i.modality == "voice")
        if held == "/v1/audio/voices":  # the documented doubt: reported, never made twice
            assert voice.status == "failed" and "check your openai account" in (voice.error or "")
            assert _posts(fake_openai, "/v1/audio/voices") == 1
        else:
            assert counted["statuses"] == dict.fromkeys(["text", "voice", "audio"], "succeeded")
            events = " ".join(e["message"] for i in studio.runs.list() for e in i.events)
            if held == "/v1/fine-tunes":
                assert "found together job" in events
    assert _posts(fake_openai, "/v1/audio/voice_consents") == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_training_killed_while_a_local_job_trains(
    trainable: dict[str, Any], fake_together: FakeServer, fake_openai: FakeServer, tmp_path: Path
) -> None:
    """The local job dies with its process; resume trains it again (the dead job stays marked
    interrupted) and adopts the vendor jobs submitted before the kill."""
    jobs = Path(trainable["data_dir"]) / "local" / "jobs"

    def training() -> bool:
        states = [json.loads(p.read_text()) for p in jobs.glob("ftjob-local-*.json")] if jobs.is_dir() else []
        return any(s["status"] == "running" for s in states)

    child = Child(trainable, tmp_path / "child.log")
    eventually(training, "the local job to start training", timeout=60)
    assert child.kill()
    _resume(trainable, fake_together, fake_openai, cli=False)
    counted = _check_after_restart(trainable, fake_together, fake_openai)
    print(f"killed while the local job trained -> {counted}")
    assert counted["local_jobs"] == 2  # the dead one and the one that finished
    assert counted["statuses"] == dict.fromkeys(["text", "voice", "audio"], "succeeded")


# ---- sample import, killed ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Folders of dialogue (2 JSONL files, a script), recordings (6) and pictures (5), and what they hold."""
    root = tmp_path_factory.mktemp("import")
    text = (files("polyface.samples") / "rex_dialogue.jsonl").read_text(encoding="utf-8").splitlines()
    (root / "dialogue").mkdir()
    (root / "dialogue" / "a.jsonl").write_text("\n".join(text[:8]) + "\n", encoding="utf-8")
    (root / "dialogue" / "b.jsonl").write_text("\n".join(text[8:14]) + "\n", encoding="utf-8")
    script = "Kid: Where are we going?\nRex: Home.\n\nKid: Are we there yet?\nRex: Almost, kid.\n"
    (root / "dialogue" / "scene.txt").write_text(script, encoding="utf-8")
    (root / "voice").mkdir()
    for i in range(6):
        tone_wav(root / "voice" / f"take_{i}.wav", seconds=4.0, hz=100 + 9 * i, rate=32000, seed=10 + i)
    (root / "face").mkdir()
    for i in range(5):
        noise_png(root / "face" / f"face_{i}.png", side=320, seed=20 + i)
    return {
        "root": root,
        "sources": [
            ["text", str(root / "dialogue")],
            ["audio", str(root / "voice")],
            ["images", str(root / "face")],
        ],
        "expected": {"text": 16, "audio": 6, "image": 5},
    }


@pytest.fixture
def importable(database_url: str, tmp_path: Path, sources: dict[str, Any]) -> dict[str, Any]:
    data_dir = tmp_path / "studio"
    with Studio(database_url, data_dir=data_dir) as studio:
        studio.personas.create("rex")
    return {
        "job": "import",
        "persona": "rex",
        "database_url": database_url,
        "data_dir": str(data_dir),
        "sources": sources["sources"],
    }


def _import_again_and_check(config: dict[str, Any], expected: dict[str, int]) -> dict[str, Any]:
    with Studio(config["database_url"], data_dir=Path(config["data_dir"])) as studio:
        rex = studio.personas.get("rex")
        for modality, source in config["sources"]:
            report = getattr(rex.samples, f"add_{modality}")(source)
            assert report.rejected == [], report
        counts = {m: rex.samples.count(m) for m in expected}
        assert counts == expected
        assert sample_problems(studio, "rex") == []
        garbage = studio.collect_garbage(older_than=0)  # only unfinished writes can be left over
        assert garbage.blobs == [] and all(Path(n).name.startswith(".put-") for n in garbage.files), garbage
        assert media_problems(studio) == []
        return {"counts": counts, "swept": garbage.files}


@pytest.mark.parametrize(
    ("database_url", "seed"),
    [("sqlite", 11), ("sqlite", 12), ("sqlite", 14), ("sqlite", 15), ("postgresql", 13)],
    indirect=["database_url"],
)
def test_import_killed_at_a_random_point_completes_when_run_again(
    importable: dict[str, Any], sources: dict[str, Any], tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    target, jitter = rng.randint(1, 34), rng.uniform(0, 0.005)
    child = Child(importable, tmp_path / "child.log")
    reached = child.wait_line(lambda line: line == f"commit {target}" or line == "done")
    if reached is not None and reached != "done":
        time.sleep(jitter)  # a seeded instant after that commit: somewhere in the next sample
    killed = child.kill()
    result = _import_again_and_check(importable, sources["expected"])
    print(f"seed {seed}: killed={killed} after commit {target}+{jitter * 1000:.1f}ms -> {result}")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_import_killed_between_the_file_and_its_row(
    importable: dict[str, Any], sources: dict[str, Any], tmp_path: Path
) -> None:
    """The third recording's file is in the store, its row never committed: garbage collection removes
    the orphan (not while it is young: an import may be about to commit it); the import completes."""
    child = Child({**importable, "die_at": "media-written", "die_after": 3}, tmp_path / "child.log")
    child.died_by_itself()
    with Studio(importable["database_url"], data_dir=Path(importable["data_dir"])) as studio:
        assert studio.personas.get("rex").samples.count("audio") == 2
        orphan = [p for p in media_problems(studio) if p.startswith("file without a media row")]
        assert len(orphan) == 1
        assert studio.collect_garbage().files == []  # young: kept
        swept = studio.collect_garbage(older_than=0).files
        assert len(swept) == 1 and swept[0] in orphan[0]
        assert media_problems(studio) == []
    _import_again_and_check(importable, sources["expected"])


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_import_killed_while_a_file_is_half_written(
    importable: dict[str, Any], sources: dict[str, Any], tmp_path: Path
) -> None:
    """Half a picture under its temporary name: never taken for the picture; swept by garbage collection."""
    child = Child({**importable, "die_at": "media-half-written", "die_after": 8}, tmp_path / "child.log")
    child.died_by_itself()
    result = _import_again_and_check(importable, sources["expected"])
    assert len(result["swept"]) == 1 and Path(result["swept"][0]).name.startswith(".put-")
