"""The local catalog's crash leftovers: staging folders of dead processes are swept, and a job killed
right after committing its model is reported with that model instead of as interrupted."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from polyface.providers.local.jobs import LocalJobs
from polyface.providers.local.store import LocalModel, LocalStore
from polyface.types.fine_tuning import FineTuneJobInfo


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_staging_leftovers_of_dead_processes_are_swept(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    dead = _dead_pid()
    store.models_dir.mkdir(parents=True)
    leftover = store.models_dir / f".staging-{dead}-abc"
    (leftover / "weights").mkdir(parents=True)
    mine = store.models_dir / f".staging-{os.getpid()}-def"
    mine.mkdir()
    unnamed = store.models_dir / ".staging-xyz"  # no owner in its name: never guessed at
    unnamed.mkdir()
    model_dir = store.models_dir / "espeak-ng__kept"
    model_dir.mkdir()
    half_manifest = model_dir / f".model.json.{dead}.1234.tmp"
    half_manifest.write_text("{")

    fresh = store.staging()

    assert fresh.name.startswith(f".staging-{os.getpid()}-") and fresh.is_dir()
    assert not leftover.exists() and not half_manifest.exists()
    assert mine.is_dir() and unnamed.is_dir() and model_dir.is_dir()


def test_a_job_killed_after_committing_its_model_reports_that_model(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    jobs = LocalJobs(store)
    now = datetime.now(UTC)
    info = FineTuneJobInfo(
        id="ftjob-local-0123456789abcdef",
        provider="local",
        modality="voice",
        base_model="espeak-ng",
        status="running",
        created_at=now,
        updated_at=now,
    )
    jobs._save(info)
    state = jobs._path(info.id)
    state.write_text(state.read_text().replace(f'"pid": {os.getpid()}', f'"pid": {_dead_pid()}'))
    assert jobs.info(info.id).raw_status == "interrupted"  # nothing committed: it never finished

    model = LocalModel(id="espeak-ng:rex", modality="voice", kind="voice-profile", job_id=info.id)
    stored = store.commit(model, store.staging())

    after = jobs.info(info.id)
    assert after.status == "succeeded" and after.result_model == stored.id == "espeak-ng:rex"
    assert after.progress == 1.0
