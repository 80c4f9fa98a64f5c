"""What the persona API hands out: plain typed snapshots of rows (usable after their session closed)."""

from __future__ import annotations

import builtins
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import Field

from polyface.types._base import PolyfaceModel

MODALITIES: tuple[str, ...] = ("text", "voice", "image", "video", "audio")
"""What an avatar has one model for. ``voice`` speaks (speech synthesis); ``audio`` listens (recognition)."""

SAMPLE_MODALITIES: tuple[str, ...] = ("text", "audio", "image", "video")
LIKENESS_USES: tuple[str, ...] = ("voice", "image", "video")
"""Uses of a real person's likeness that need a recorded consent before training."""


class PersonaInfo(PolyfaceModel):
    id: int
    name: str
    description: str = ""
    style_notes: str = ""
    system_prompt: str | None = None
    created_at: datetime | None = None
    samples: dict[str, int] = Field(default_factory=dict)
    """How many samples per modality."""
    active_version: int | None = None


class SampleInfo(PolyfaceModel):
    id: int
    modality: str
    source: str = ""
    checksum: str
    media_sha256: str | None = None
    path: Path | None = None
    """The stored file (None for text samples and remote stores)."""
    text: str | None = None
    duration: float | None = None
    meta: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None


class SampleProblem(PolyfaceModel):
    source: str
    reason: str


class ImportReport(PolyfaceModel):
    """What one ``samples.add_*`` did: what was added, what was already there, and each bad file."""

    modality: str
    added: list[SampleInfo] = Field(default_factory=list)
    duplicates: list[str] = Field(default_factory=list)
    """Sources whose content was already stored for this persona (kept once)."""
    rejected: list[SampleProblem] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected

    def __str__(self) -> str:
        lines = [
            f"{self.modality}: {len(self.added)} added, {len(self.duplicates)} already stored, "
            f"{len(self.rejected)} rejected"
        ]
        lines += [f"  rejected {p.source}: {p.reason}" for p in self.rejected]
        return "\n".join(lines)


class ConsentInfo(PolyfaceModel):
    id: int
    subject: str
    uses: list[str]
    evidence_sha256: str | None = None
    evidence_note: str = ""
    recorded_at: datetime | None = None
    revoked_at: datetime | None = None


class RunInfo(PolyfaceModel):
    id: str
    persona: str
    batch_id: str
    modality: str
    provider: str
    base_model: str
    status: str
    provider_job_id: str | None = None
    result_model: str | None = None
    estimated_cost: float | None = None
    cost: float | None = None
    error: str | None = None
    events: list[dict[str, Any]] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict)
    sample_ids: list[int] = Field(default_factory=list)
    """The samples the run trained on (recorded before its job is submitted)."""
    created_at: datetime | None = None
    finished_at: datetime | None = None
    refresh_error: str | None = None
    """Why the last refresh could not reach the run's provider (not stored; None when it could)."""

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "failed", "cancelled")


class GarbageReport(PolyfaceModel):
    """What :meth:`~polyface.persona.studio.Studio.collect_garbage` removed."""

    blobs: list[str] = Field(default_factory=list)
    """Media rows (SHA-256) no sample, consent or turn referred to any more; their files went with them."""
    files: list[str] = Field(default_factory=list)
    """Files in the media store without a row (left by a crash) and unfinished writes."""
    workdirs: list[str] = Field(default_factory=list)
    """Training runs' work folders whose run ended or no longer exists."""


class AvatarVersion(PolyfaceModel):
    id: int
    persona: str
    version: int
    active: bool
    models: dict[str, dict[str, Any]]
    note: str = ""
    created_at: datetime | None = None


class MediaOutput(PolyfaceModel):
    """One output of a response: where it is stored and its bytes."""

    kind: str
    mime_type: str
    sha256: str
    path: Path | None = None
    data: builtins.bytes = Field(repr=False, exclude=True)
    meta: dict[str, Any] = Field(default_factory=dict)

    def bytes(self) -> builtins.bytes:
        return self.data
