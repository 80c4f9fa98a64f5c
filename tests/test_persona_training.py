"""Training an avatar: the whole workflow on ``local`` and on the vendor fakes, crash then resume,
consent and budget refusals, a failed modality that does not undo the others."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from polyface import LocalAdapter, OpenAIAdapter, TogetherAdapter
from polyface.errors import BudgetExceeded, CapabilityNotSupported, ConsentRequired, InvalidArgument
from polyface.persona import training
from polyface.persona.studio import Studio
from polyface.testing.fake_together import FakeServer

TOGETHER_BASE = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"


def rex_rows(n: int = 20) -> list[dict[str, str]]:
    text = (files("polyface.samples") / "rex_dialogue.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()][:n]


@pytest.fixture(scope="module")
def voice_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three recordings of one voice (eSpeak with a known profile) and a spoken consent statement."""
    folder = tmp_path_factory.mktemp("voice")
    speech = LocalAdapter(data_dir=folder / "tts").audio
    lines = [
        "Listen, kid. Family comes first, always.",
        "I drive a rig across the country so my family never goes without.",
        "Home is wherever my family is waiting for me.",
        "I, Rex Harbor, consent to this voice being made from my recordings.",
    ]
    out = []
    for i, line in enumerate(lines):
        path = folder / f"rex_{i}.wav"
        speech.speak(model="espeak-ng", text=line, voice="en-us+m2").save(path)
        out.append(path)
    return out


def vendor_studio(
    database_url: str, tmp_path: Path, fake_together: FakeServer, fake_openai: FakeServer
) -> Studio:
    return Studio(
        database_url,
        data_dir=tmp_path / "studio",
        providers={
            "together": TogetherAdapter(api_key=fake_together.api_key, base_url=fake_together.base_url),
            "openai": OpenAIAdapter(api_key=fake_openai.api_key, base_url=fake_openai.base_url),
        },
    )


@pytest.fixture
def vendors(
    database_url: str,
    tmp_path: Path,
    fake_together: FakeServer,
    fake_openai: FakeServer,
    voice_files: list[Path],
) -> Iterator[tuple[Studio, Any]]:
    studio = vendor_studio(database_url, tmp_path, fake_together, fake_openai)
    rex = studio.personas.create("rex", description="A gruff driver who lives by family and loyalty.")
    rex.samples.add_text(rex_rows())
    rex.samples.add_audio(voice_files[:3])
    yield studio, rex
    studio.close()


def posts(fake: FakeServer, path: str) -> int:
    return sum(1 for r in fake.requests if r.method == "POST" and r.path == path)


def test_plan_lists_each_modality_with_its_data_and_cost(vendors: tuple[Studio, Any]) -> None:
    _, rex = vendors
    plan = rex.avatar.plan(text=f"together:{TOGETHER_BASE}", voice="openai", audio="local")
    assert plan.modalities == ["text", "voice", "audio"]
    text = plan.item("text")
    assert (text.provider, text.base_model, text.samples) == ("together", TOGETHER_BASE, 20)
    assert plan.item("voice").samples == 3 and (plan.item("voice").seconds or 0) > 3
    assert plan.item("audio").estimated_cost_usd == 0.0
    assert "text" in str(plan) and "together" in str(plan)
    with pytest.raises(CapabilityNotSupported, match="local"):
        rex.avatar.plan(image="together")
    with pytest.raises(InvalidArgument, match="no image samples"):
        rex.avatar.plan(image="local")
    with pytest.raises(InvalidArgument, match="unknown modality"):
        rex.avatar.plan(smell="local")


def test_vendor_workflow_together_text_and_openai_voice(
    vendors: tuple[Studio, Any], fake_together: FakeServer, fake_openai: FakeServer, voice_files: list[Path]
) -> None:
    studio, rex = vendors
    plan = rex.avatar.plan(text=f"together:{TOGETHER_BASE}", voice="openai")
    with pytest.raises(ConsentRequired, match="consent"):
        rex.avatar.train(plan)
    assert studio.runs.list() == []  # refused before anything was recorded or sent
    rex.consent.record("Rex Harbor", ["voice"], evidence=voice_files[3])
    runs = rex.avatar.train(plan, budget_usd=100)
    seen: list[Any] = []
    infos = runs.wait(progress=seen.append, poll_interval=0.01, timeout=60)
    assert {i.modality: i.status for i in infos} == {"text": "succeeded", "voice": "succeeded"}, [
        i.error for i in infos
    ]
    text = next(i for i in infos if i.modality == "text")
    assert text.provider_job_id and text.result_model and training.marker("rex", text.id) in text.result_model
    assert any("loss" in e for e in text.events)
    assert seen and seen[-1].done
    version = rex.set_avatar(runs)
    assert version.models["text"]["provider"] == "together"
    assert version.models["voice"]["provider"] == "openai"
    assert posts(fake_together, "/v1/fine-tunes") == 1 and posts(fake_openai, "/v1/audio/voices") == 1


def test_crash_during_train_then_resume_duplicates_nothing(
    database_url: str,
    tmp_path: Path,
    fake_together: FakeServer,
    fake_openai: FakeServer,
    voice_files: list[Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    studio = vendor_studio(database_url, tmp_path, fake_together, fake_openai)
    rex = studio.personas.create("rex")
    rex.samples.add_text(rex_rows())
    rex.samples.add_audio(voice_files[:3])
    rex.consent.record("Rex Harbor", ["voice"], evidence=voice_files[3])
    plan = rex.avatar.plan(text=f"together:{TOGETHER_BASE}", voice="openai")

    def crash(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt  # the process dies after Together accepted the job, before it was recorded

    monkeypatch.setattr(training, "_record_submission", crash)
    with pytest.raises(KeyboardInterrupt):
        rex.avatar.train(plan)
    studio.close()
    monkeypatch.undo()
    assert posts(fake_together, "/v1/fine-tunes") == 1

    restarted = vendor_studio(database_url, tmp_path, fake_together, fake_openai)
    before = {r.modality: r.status for r in restarted.runs.list()}
    assert before == {"text": "submitting", "voice": "planned"}
    touched = restarted.runs.resume()
    assert {r.modality for r in touched} == {"text", "voice"}
    infos = restarted.runs.wait(poll_interval=0.01, timeout=60)
    assert {i.modality: i.status for i in infos} == {"text": "succeeded", "voice": "succeeded"}
    assert posts(fake_together, "/v1/fine-tunes") == 1  # adopted, not submitted again
    assert posts(fake_openai, "/v1/audio/voices") == 1
    assert any("found together job" in e["message"] for e in infos[0].events + infos[1].events)
    restarted.close()


def test_budget_refusals(vendors: tuple[Studio, Any], fake_together: FakeServer) -> None:
    studio, rex = vendors
    # OpenAI's price table knows the training price: the plan is refused before anything is recorded
    openai_plan = rex.avatar.plan(text="openai:gpt-4o-mini-2024-07-18", parameters={"text": {"n_epochs": 3}})
    assert (openai_plan.total_usd or 0) > 0
    with pytest.raises(BudgetExceeded):
        rex.avatar.train(openai_plan, budget_usd=openai_plan.total_usd / 10)
    assert studio.runs.list() == []
    # Together prices the job itself at submission: over budget, the run fails and no job is created
    runs = rex.avatar.train(rex.avatar.plan(text=f"together:{TOGETHER_BASE}"), budget_usd=0.0000001)
    (info,) = runs.list()
    assert info.status == "failed" and "BudgetExceeded" in (info.error or "")
    assert posts(fake_together, "/v1/fine-tunes") == 0


def test_a_failed_modality_keeps_the_others(
    vendors: tuple[Studio, Any], fake_together: FakeServer, voice_files: list[Path]
) -> None:
    _, rex = vendors
    rex.consent.record("Rex Harbor", ["voice"])
    fake_together.fail("/v1/fine-tunes", status=400, times=5)
    runs = rex.avatar.train(rex.avatar.plan(text=f"together:{TOGETHER_BASE}", voice="local"))
    infos = {i.modality: i for i in runs.wait(poll_interval=0.05, timeout=120)}
    assert infos["text"].status == "failed" and infos["voice"].status == "succeeded"
    version = rex.set_avatar(runs)
    assert set(version.models) == {"voice"} and "text" in version.note


@pytest.mark.slow
def test_whole_workflow_on_local(studio: Studio, voice_files: list[Path], tmp_path: Path) -> None:
    from test_local_image import drawn_face  # the image tests' drawn sample faces

    rex = studio.personas.create("rex", description="A gruff driver who lives by family and loyalty.")
    rex.samples.add_text(rex_rows(24))
    rex.samples.add_audio(voice_files[:3])
    images = []
    for i in range(3):
        path = tmp_path / f"face_{i}.png"
        drawn_face(mouth=0.1 * i).save(path)
        images.append(path)
    rex.samples.add_images(images)
    rex.consent.record("Rex Harbor", ["voice", "image"], evidence=b"signed form")
    plan = rex.avatar.plan(
        text="local", voice="local", audio="local", image="local", parameters={"text": {"n_epochs": 1}}
    )
    runs = rex.avatar.train(plan, budget_usd=0)
    infos = {i.modality: i for i in runs.wait(timeout=600)}
    assert {m: i.status for m, i in infos.items()} == dict.fromkeys(
        ["text", "voice", "audio", "image"], "succeeded"
    )
    assert infos["text"].result_model == f"smollm2-135m-instruct:{training.marker('rex', infos['text'].id)}"
    version = rex.set_avatar(runs)
    assert set(version.models) == {"text", "voice", "audio", "image"}
    local = studio.adapter("local")
    assert version.models["voice"]["model"] in {m.id for m in local.models()}
    # the sample ids each run trained on are recorded
    assert all(studio.runs.get(i.id) for i in infos.values())


def test_local_runs_survive_a_crash_and_a_dead_job(
    studio: Studio, voice_files: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from polyface.persona.tables import TrainingRun

    rex = studio.personas.create("rex")
    rex.samples.add_audio(voice_files[:3])
    rex.consent.record("Rex Harbor", ["voice"])
    plan = rex.avatar.plan(voice="local")

    def crash(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "_record_submission", crash)
    with pytest.raises(KeyboardInterrupt):
        rex.avatar.train(plan)
    monkeypatch.undo()
    # a second Studio in the same process finds the local job by its marker and adopts it (still alive)
    with Studio(studio.db.url, data_dir=studio.data_dir) as again:
        (touched,) = again.runs.resume()
        (info,) = again.runs.wait(poll_interval=0.05, timeout=120)
        assert info.status == "succeeded" and info.provider_job_id == touched.provider_job_id
        local = again.adapter("local")
        assert len(local.fine_tuning.voice.list()) == 1  # nothing trained twice
        # now its job "dies with its process": the run is trained again on resume, and succeeds
        with again.db.session() as session:
            row = session.get(TrainingRun, info.id)
            assert row is not None
            row.status, row.provider_job_id = "running", "ftjob-local-00000000deadbeef"
            row.parameters = {**row.parameters, "_progress": 0.5}
        jobs = again.data_dir / "local" / "jobs"
        dead = {"id": "ftjob-local-00000000deadbeef", "provider": "local", "modality": "voice"}
        (jobs / "ftjob-local-00000000deadbeef.json").write_text(
            json.dumps({**dead, "status": "running", "raw": {"pid": 2**22 + 7}}), encoding="utf-8"
        )
        (resumed,) = again.runs.resume()
        assert resumed.provider_job_id not in (None, "ftjob-local-00000000deadbeef")
        (final,) = again.runs.wait(poll_interval=0.05, timeout=120)
        assert final.status == "succeeded"
        assert any("died with its process" in e["message"] for e in final.events)
