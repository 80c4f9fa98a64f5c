"""The base every polyface model shares, and the status handling every job snapshot shares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator


class PolyfaceModel(BaseModel):
    """A typed value polyface hands out or accepts. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def normalize_word(raw: str | None, known: tuple[str, ...], synonyms: Mapping[str, str]) -> str:
    """``raw`` as one of ``known`` (directly or through ``synonyms``), else ``"unknown"``.

    Matching ignores case, spaces and hyphens; nothing unrecognised is ever an error.
    """
    if raw is None:
        return "unknown"
    key = raw.strip().lower().replace("-", "_").replace(" ", "_")
    if key in known:
        return key
    return synonyms.get(key, "unknown")


class JobSnapshot(PolyfaceModel):
    """A job's state at one moment. The vendor's status word is normalised on the way in and kept as
    ``raw_status``. Subclasses set the normaliser, the terminal statuses and the success status."""

    terminal_statuses: ClassVar[frozenset[str]]
    success_status: ClassVar[str]

    @staticmethod
    def status_normalizer(raw: str | None) -> str:
        """The vendor's word in polyface's (subclasses set it)."""
        raise NotImplementedError

    @model_validator(mode="before")
    @classmethod
    def _normalise_status(cls, data: Any) -> Any:
        status = data.get("status", ...) if isinstance(data, dict) else ...
        if status is None or isinstance(status, str):
            data = dict(data)
            data.setdefault("raw_status", status)
            data["status"] = cls.status_normalizer(status)
        return data

    @property
    def done(self) -> bool:
        """True once the job can change no more (succeeded, failed or cancelled)."""
        return getattr(self, "status", None) in self.terminal_statuses

    @property
    def succeeded(self) -> bool:
        return getattr(self, "status", None) == self.success_status
