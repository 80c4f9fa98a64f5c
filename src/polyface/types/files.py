"""A file stored at a provider (training data, uploads)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from polyface.types._base import PolyfaceModel


class StoredFile(PolyfaceModel):
    """What every provider says of a stored file; providers add their own fields."""

    id: str
    filename: str
    bytes: int = 0
    purpose: str | None = None
    created_at: int | None = None
    sha256: str | None = None
    """The content's SHA-256, when polyface uploaded it in this process."""
    reused: bool = False
    """True when an upload found the same file already there and sent nothing."""
    raw: dict[str, Any] = Field(default_factory=dict, repr=False, exclude=True)
