"""Embeddings (texts in, vectors out) and reranking (a query and documents in, scores out)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from polyface.types._base import PolyfaceModel
from polyface.types.usage import Usage


class EmbeddingsResponse(PolyfaceModel):
    """One vector per input, in the order the inputs were given."""

    provider: str
    model: str
    vectors: list[list[float]]
    usage: Usage = Field(default_factory=Usage)
    cost: float | None = None
    """USD, from the provider's catalog pricing; None when the catalog has no price for the model."""
    raw: dict[str, Any] = Field(default_factory=dict, repr=False, exclude=True)

    @property
    def dimensions(self) -> int:
        """The length of each vector (0 when there are none)."""
        return len(self.vectors[0]) if self.vectors else 0


class RerankResult(PolyfaceModel):
    """One document's score. ``index`` is its position in the documents that were sent."""

    index: int = Field(ge=0)
    relevance_score: float
    document: str | None = None
    """The document's text, when the provider returns it (Together does with ``return_documents``)."""


class RerankResponse(PolyfaceModel):
    """Documents ranked by relevance to the query, most relevant first."""

    id: str | None = None
    provider: str
    model: str
    results: list[RerankResult]
    usage: Usage = Field(default_factory=Usage)
    cost: float | None = None
    raw: dict[str, Any] = Field(default_factory=dict, repr=False, exclude=True)

    @property
    def indices(self) -> list[int]:
        """The documents' original positions, most relevant first."""
        return [r.index for r in sorted(self.results, key=lambda r: r.relevance_score, reverse=True)]
