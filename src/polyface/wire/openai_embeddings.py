"""The OpenAI-style embeddings wire format (``POST /embeddings``), shared by every vendor that speaks it.

Together, OpenAI and OpenAI-compatible servers (vLLM, Ollama, llama.cpp...) take ``{"model", "input"}`` and
answer ``{"object": "list", "data": [{"index", "embedding"}...], "usage": {...}}``. Pure: dicts in, typed
models out, no I/O.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from polyface.errors import InvalidArgument
from polyface.types.embeddings import EmbeddingsResponse
from polyface.types.usage import Usage


class EmbeddingsFormatError(ValueError):
    """The vendor's answer does not have the shape of an embeddings response."""


def normalize_inputs(inputs: str | Sequence[str], *, provider: str) -> list[str]:
    """``inputs`` as a non-empty list of non-empty strings (a single string becomes a list of one)."""
    if isinstance(inputs, str):
        items: list[Any] = [inputs]
    elif isinstance(inputs, bytes | bytearray) or not isinstance(inputs, Iterable):
        raise InvalidArgument(
            f"{provider} embeddings take inputs as a string or a list of strings, "
            f"not {type(inputs).__name__}."
        )
    else:
        items = list(inputs)
    if not items:
        raise InvalidArgument(
            f"{provider} embeddings need at least one input; pass inputs=['some text', ...]."
        )
    for position, item in enumerate(items):
        if not isinstance(item, str):
            raise InvalidArgument(
                f"{provider} embeddings: input #{position} is a {type(item).__name__}, not a string; "
                "pass text only."
            )
        if not item.strip():
            raise InvalidArgument(
                f"{provider} embeddings: input #{position} is empty; vendors reject empty texts, "
                "so drop it or replace it with some text."
            )
    return items


def batches(items: Sequence[str], size: int | None) -> list[list[str]]:
    """``items`` split into consecutive lists of at most ``size`` (one list when ``size`` is None)."""
    if size is None:
        return [list(items)]
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InvalidArgument(f"batch_size must be a whole number of at least 1 (got {size!r}).")
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


def embeddings_body(
    model: str, inputs: Sequence[str], extra_body: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The request body for one batch."""
    if not isinstance(model, str) or not model.strip():
        raise InvalidArgument("model must be a model name, e.g. model='BAAI/bge-base-en-v1.5'.")
    body: dict[str, Any] = dict(extra_body or {})
    body["model"] = model
    body["input"] = list(inputs)
    return body


def _vector(value: Any, position: int) -> list[float]:
    if isinstance(value, str):  # encoding_format="base64": little-endian float32s
        try:
            raw = base64.b64decode(value, validate=True)
        except ValueError as exc:
            raise EmbeddingsFormatError(f"embedding #{position} is not valid base64: {exc}") from None
        if len(raw) % 4:
            raise EmbeddingsFormatError(f"embedding #{position} is not a whole number of float32 values")
        return [float(x) for x in struct.unpack(f"<{len(raw) // 4}f", raw)]
    if not isinstance(value, list):
        raise EmbeddingsFormatError(f"embedding #{position} is a {type(value).__name__}, not a list")
    try:
        return [float(x) for x in value]
    except (TypeError, ValueError):
        raise EmbeddingsFormatError(f"embedding #{position} holds values that are not numbers") from None


def parse_usage(data: Any) -> Usage | None:
    """Usage from an ``{"prompt_tokens", "total_tokens"}`` object; None when the vendor sent none."""
    if not isinstance(data, Mapping):
        return None
    prompt = int(data.get("prompt_tokens") or 0)
    completion = int(data.get("completion_tokens") or 0)
    return Usage(
        input_tokens=prompt,
        output_tokens=completion,
        total_tokens=int(data.get("total_tokens") or prompt + completion),
    )


def parse_embeddings_response(
    data: Any, *, provider: str, model: str, expected: int | None = None
) -> EmbeddingsResponse:
    """An :class:`EmbeddingsResponse` from one answer; vectors are put back in input order by ``index``.

    ``expected`` is how many inputs were sent: a different number of vectors is an error.
    ``usage`` is left at zero when the vendor reported none (``raw`` then has no ``"usage"``). ``raw`` keeps
    the answer without its ``data`` (the vectors are in ``vectors``).
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("data"), list):
        raise EmbeddingsFormatError("the answer has no 'data' list of embeddings")
    items = data["data"]
    indexed: list[tuple[int, list[float]]] = []
    for position, item in enumerate(items):
        if not isinstance(item, Mapping) or "embedding" not in item:
            raise EmbeddingsFormatError(f"data[{position}] has no 'embedding'")
        index = item.get("index", position)
        if isinstance(index, bool) or not isinstance(index, int):
            raise EmbeddingsFormatError(f"data[{position}] has a non-integer index {index!r}")
        indexed.append((index, _vector(item["embedding"], position)))
    indexed.sort(key=lambda pair: pair[0])
    if expected is not None and len(indexed) != expected:
        raise EmbeddingsFormatError(f"{expected} inputs were sent but {len(indexed)} vectors came back")
    if [index for index, _ in indexed] != list(range(len(indexed))):
        raise EmbeddingsFormatError(
            "the vectors' indexes are not 0..n-1, so they cannot be matched to inputs"
        )
    usage = parse_usage(data.get("usage"))
    return EmbeddingsResponse(
        provider=provider,
        model=str(data.get("model") or model),
        vectors=[vector for _, vector in indexed],
        usage=usage or Usage(),
        raw={key: value for key, value in data.items() if key != "data"},  # the vectors are not kept twice
    )


def usage_reported(raw: Mapping[str, Any]) -> bool:
    """Whether the vendor reported usage, given a parsed response's ``raw`` (all batches, once merged)."""
    return isinstance(raw.get("usage"), Mapping)


def merge(responses: Sequence[EmbeddingsResponse]) -> EmbeddingsResponse:
    """One response from the responses of consecutive batches, vectors in batch order."""
    if not responses:
        raise ValueError("nothing to merge")
    if len(responses) == 1:
        return responses[0]
    usage = Usage()
    for response in responses:
        usage = usage + response.usage
    raw: dict[str, Any] = {"batches": [r.raw for r in responses]}
    if all(usage_reported(r.raw) for r in responses):
        raw["usage"] = {"prompt_tokens": usage.input_tokens, "total_tokens": usage.total_tokens}
    first = responses[0]
    return EmbeddingsResponse(
        provider=first.provider,
        model=first.model,
        vectors=[vector for response in responses for vector in response.vectors],
        usage=usage,
        raw=raw,
    )


def estimate_tokens(inputs: Iterable[str]) -> int:
    """A cheap estimate of the tokens a batch uses (for the rate limiter)."""
    return sum(len(text) // 4 + 1 for text in inputs)


__all__ = [
    "EmbeddingsFormatError",
    "batches",
    "embeddings_body",
    "estimate_tokens",
    "merge",
    "normalize_inputs",
    "parse_embeddings_response",
    "parse_usage",
    "usage_reported",
]
