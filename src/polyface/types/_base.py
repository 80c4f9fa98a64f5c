"""The base every polyface model shares."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class PolyfaceModel(BaseModel):
    """A typed value polyface hands out or accepts. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
