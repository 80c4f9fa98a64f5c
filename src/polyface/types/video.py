"""Video generation: a job is created, polled until it finishes, and its video downloaded."""

from __future__ import annotations

import builtins
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, cast, get_args

from pydantic import ConfigDict, Field, model_validator

from polyface.types._base import JobSnapshot, PolyfaceModel, normalize_word
from polyface.types.image import fetch_url_bytes
from polyface.types.usage import Usage

VideoJobStatus = Literal["queued", "in_progress", "completed", "failed", "cancelled", "unknown"]
"""Where a video job stands. A vendor status polyface does not know becomes ``unknown``
(the vendor's own word is kept in ``raw_status``)."""

VIDEO_TERMINAL_STATUSES: frozenset[VideoJobStatus] = frozenset({"completed", "failed", "cancelled"})

_VIDEO_SYNONYMS: dict[str, VideoJobStatus] = {
    "pending": "queued",
    "submitted": "queued",
    "created": "queued",
    "starting": "queued",
    "running": "in_progress",
    "processing": "in_progress",
    "generating": "in_progress",
    "succeeded": "completed",
    "success": "completed",
    "done": "completed",
    "finished": "completed",
    "error": "failed",
    "errored": "failed",
    "canceled": "cancelled",
}


def normalize_video_status(raw: str | None) -> VideoJobStatus:
    """A vendor's video job status in polyface's words (``"succeeded"`` -> ``"completed"``).

    Matching ignores case, spaces and hyphens; anything unrecognised is ``"unknown"``, never an error.
    """
    return cast(VideoJobStatus, normalize_word(raw, get_args(VideoJobStatus), _VIDEO_SYNONYMS))


class VideoJobInfo(JobSnapshot):
    """A snapshot of a video job. Build it from a vendor's status word: it is normalised for you."""

    @staticmethod
    def status_normalizer(raw: str | None) -> str:
        return normalize_video_status(raw)

    terminal_statuses = VIDEO_TERMINAL_STATUSES
    success_status = "completed"

    id: str
    provider: str
    model: str | None = None
    status: VideoJobStatus
    raw_status: str | None = None
    """The vendor's status exactly as sent (``status`` is its normalised form)."""
    progress: float | None = Field(default=None, ge=0.0, le=1.0)
    """Fraction done, 0.0 to 1.0 (OpenAI's percent is divided by 100); None when not reported."""
    prompt: str | None = None
    size: str | None = None
    """Resolution as the vendor writes it, e.g. ``1280x720``."""
    seconds: float | None = None
    created_at: datetime | None = None
    completed_at: datetime | None = None
    expires_at: datetime | None = None
    """When the vendor deletes the output; download before then."""
    output_url: str | None = None
    error: str | None = None
    """Why the job failed, in the vendor's words."""
    error_code: str | None = None
    cost: float | None = None
    """USD charged, when the vendor reports it or the catalog prices it."""
    raw: dict[str, Any] = Field(default_factory=dict, repr=False, exclude=True)


class VideoResult(PolyfaceModel):
    """A finished video: its bytes, or a URL to fetch them from (vendors' URLs expire)."""

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    job_id: str | None = None
    provider: str
    model: str | None = None
    data: builtins.bytes | None = Field(default=None, repr=False)
    url: str | None = None
    format: Literal["mp4", "webm", "mov", "gif"] = "mp4"
    duration_seconds: float | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    has_audio: bool | None = None
    usage: Usage = Field(default_factory=Usage)
    cost: float | None = None

    @model_validator(mode="after")
    def _has_content(self) -> VideoResult:
        if self.data is None and self.url is None:
            raise ValueError("a video result needs data or url; the provider returned neither")
        return self

    @property
    def mime_type(self) -> str:
        return {"mp4": "video/mp4", "webm": "video/webm", "mov": "video/quicktime", "gif": "image/gif"}[
            self.format
        ]

    def bytes(self, *, timeout: float = 300.0) -> builtins.bytes:
        """The video's bytes: ``data`` when held, else fetched from ``url``."""
        if self.data is not None:
            return self.data
        assert self.url is not None  # guaranteed by _has_content
        return fetch_url_bytes(self.url, timeout=timeout)

    def save(self, path: str | Path, *, timeout: float = 300.0) -> Path:
        """Write the video to ``path`` (parent folders are created) and return the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self.bytes(timeout=timeout))
        return target
