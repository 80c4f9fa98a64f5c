"""OpenAI embeddings (``POST /embeddings``): the shared OpenAI-style engine plus OpenAI's own options.

``dimensions`` shortens ``text-embedding-3-*`` vectors (OpenAI refuses it for ``text-embedding-ada-002``),
``encoding_format="base64"`` makes the answer smaller on the wire (the vectors come back as floats all the
same), ``user`` identifies the end user. OpenAI takes at most 2048 inputs per request, so larger lists are
sent in batches of 2048 unless ``batch_size=`` says otherwise. OpenAI has no rerank endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from polyface.errors import InvalidArgument
from polyface.providers._base.embeddings import OpenAIStyleEmbeddings
from polyface.providers.openai.config import base_model

MAX_INPUTS = 2048
"""OpenAI's limit of inputs per request."""

NATIVE_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072}
"""The full vector length of the models that take ``dimensions`` (a shorter one may be asked for)."""

RERANK_OFFERED_BY = ("together",)


def check_dimensions(model: str, dimensions: Any) -> int:
    """``dimensions`` for ``model``, checked before sending: a whole number from 1 to the model's own length,
    and only for the models that take it."""
    if isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1:
        raise InvalidArgument(f"dimensions must be a whole number of at least 1 (got {dimensions!r}).")
    name = base_model(model)
    if name.startswith("text-embedding-ada-"):
        raise InvalidArgument(
            f"{model} always returns 1536 dimensions; drop dimensions=, or use text-embedding-3-small/-large."
        )
    native = next((n for prefix, n in NATIVE_DIMENSIONS.items() if name.startswith(prefix)), None)
    if native is not None and dimensions > native:
        raise InvalidArgument(f"{model} returns at most {native} dimensions (got dimensions={dimensions}).")
    return dimensions


class OpenAIEmbeddings(OpenAIStyleEmbeddings):
    """``adapter.embeddings``: vectors for texts (``embed``/``aembed``). Options: ``dimensions``,
    ``encoding_format`` ("float" or "base64"), ``user``, and ``extra_body={...}``."""

    extra_options: ClassVar[frozenset[str]] = frozenset({"dimensions", "encoding_format", "user"})

    def check_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        encoding = fields.get("encoding_format")
        if encoding is not None and encoding not in ("float", "base64"):
            raise InvalidArgument(f"encoding_format must be 'float' or 'base64' (got {encoding!r}).")
        user = fields.get("user")
        if user is not None and not isinstance(user, str):
            raise InvalidArgument("user must be a string identifying your end user, e.g. user='user-1234'.")
        return fields

    def _plan(
        self, model: str, inputs: str | Sequence[str], batch_size: int | None, options: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        if options.get("dimensions") is not None:
            check_dimensions(model, options["dimensions"])
        if isinstance(batch_size, int) and not isinstance(batch_size, bool) and batch_size > MAX_INPUTS:
            raise InvalidArgument(
                f"OpenAI takes at most {MAX_INPUTS} inputs per request; use batch_size={MAX_INPUTS} or less."
            )
        many = not isinstance(inputs, str) and isinstance(inputs, Sequence) and len(inputs) > MAX_INPUTS
        if batch_size is None and many:
            batch_size = MAX_INPUTS
        return super()._plan(model, inputs, batch_size, options)


__all__ = ["MAX_INPUTS", "NATIVE_DIMENSIONS", "OpenAIEmbeddings", "check_dimensions"]
