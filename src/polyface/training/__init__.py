"""Provider-independent training data: read, validate and convert datasets (pure; no network).

Shared by every provider's fine-tuning (Together, OpenAI, local): ``load_text_dataset(path)`` gives a
:class:`TextDataset` in the vendor-neutral JSONL shape or raises :class:`~polyface.errors.DatasetError`.
"""

from __future__ import annotations

from polyface.training.text_dataset import (
    DatasetFormat,
    DatasetSource,
    TextDataset,
    convert_row,
    count_tokens,
    detect_format,
    load_text_dataset,
    read_rows,
    row_problems,
    row_tokens,
    validate_rows,
)

__all__ = [
    "DatasetFormat",
    "DatasetSource",
    "TextDataset",
    "convert_row",
    "count_tokens",
    "detect_format",
    "load_text_dataset",
    "read_rows",
    "row_problems",
    "row_tokens",
    "validate_rows",
]
