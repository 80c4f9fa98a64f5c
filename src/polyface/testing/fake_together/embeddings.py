"""Fake Together routes: embeddings (``POST /v1/embeddings``) and reranking (``POST /v1/rerank``).

Embeddings are deterministic bags of words: each lower-cased word has a fixed pseudo-random direction
(seeded by its hash); a text's vector is the normalised sum of its words' directions, so texts sharing
words point the same way and cosine similarity means something in demos. The dimension follows the
model (768 for ``BAAI/bge-base-en-v1.5``, 1024 for the large models). Usage counts whitespace-separated
words. Rerank scores a document by the share of the query's distinct words it contains.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import uuid
from collections.abc import Mapping
from typing import Any, Final

from starlette.responses import JSONResponse, Response

from polyface.testing.fake_together.core import (
    FakeTogether,
    RecordedRequest,
    _BadRequest,
    _word_count,
    route,
)

__all__ = ["DIMENSIONS", "embed_text", "embedding_dimension", "rerank_score"]

DEFAULT_DIMENSION: Final = 768
DIMENSIONS: Final[Mapping[str, int]] = {
    "BAAI/bge-base-en-v1.5": 768,
    "BAAI/bge-large-en-v1.5": 1024,
    "WhereIsAI/UAE-Large-V1": 1024,
    "togethercomputer/m2-bert-80M-8k-retrieval": 768,
    "intfloat/multilingual-e5-large-instruct": 1024,
}
"""Vector length per model; other models get :data:`DEFAULT_DIMENSION`."""

_WORD: Final = re.compile(r"\w+")
_direction_cache: dict[tuple[str, int], list[float]] = {}


def embedding_dimension(model: str) -> int:
    return DIMENSIONS.get(model, DEFAULT_DIMENSION)


def _words(text: str) -> list[str]:
    return [word.lower() for word in _WORD.findall(text)]


def _direction(word: str, dimension: int) -> list[float]:
    key = (word, dimension)
    cached = _direction_cache.get(key)
    if cached is None:
        seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "big")
        rng = random.Random(seed)
        cached = [rng.gauss(0.0, 1.0) for _ in range(dimension)]
        if len(_direction_cache) < 50_000:
            _direction_cache[key] = cached
    return cached


def embed_text(text: str, dimension: int) -> list[float]:
    """The fake's unit vector for ``text`` (the same text always gets the same vector)."""
    total = [0.0] * dimension
    for word in _words(text) or [text]:
        for i, value in enumerate(_direction(word, dimension)):
            total[i] += value
    norm = math.sqrt(sum(v * v for v in total)) or 1.0
    return [v / norm for v in total]


def rerank_score(query: str, document: str) -> float:
    """The share of the query's distinct words found in the document (0..1)."""
    wanted = set(_words(query))
    if not wanted:
        return 0.0
    return len(wanted & set(_words(document))) / len(wanted)


@route("POST", r"/v1/embeddings")
async def create_embeddings(
    fake: FakeTogether, req: RecordedRequest, generation: int, match: Any
) -> Response:
    body = fake._json_object(req)
    model = fake._known_model(body)
    raw = body.get("input")
    if isinstance(raw, str):
        texts = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(t, str) for t in raw):
        texts = raw
    else:
        raise _BadRequest(
            "'input' must be a string or a non-empty list of strings", code="invalid_request_error"
        )
    if any(not t.strip() for t in texts):
        raise _BadRequest("'input' must not contain empty strings", code="invalid_request_error")
    dimension = embedding_dimension(model)
    tokens = sum(max(1, _word_count(t)) for t in texts)
    return JSONResponse(
        {
            "object": "list",
            "model": model,
            "data": [
                {"object": "embedding", "index": index, "embedding": embed_text(text, dimension)}
                for index, text in enumerate(texts)
            ],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


def _document_text(document: Any, rank_fields: list[str] | None) -> str:
    if isinstance(document, str):
        return document
    fields = rank_fields if rank_fields is not None else list(document)
    return " ".join(str(document[name]) for name in fields if name in document)


@route("POST", r"/v1/rerank")
async def rerank(fake: FakeTogether, req: RecordedRequest, generation: int, match: Any) -> Response:
    body = fake._json_object(req)
    model = fake._known_model(body)
    query = body.get("query")
    documents = body.get("documents")
    if not isinstance(query, str) or not query:
        raise _BadRequest("'query' is required and must be a string", code="invalid_request_error")
    if not isinstance(documents, list) or not documents:
        raise _BadRequest("'documents' must be a non-empty list", code="invalid_request_error")
    if not (all(isinstance(d, str) for d in documents) or all(isinstance(d, dict) for d in documents)):
        raise _BadRequest("'documents' must be all strings or all objects", code="invalid_request_error")
    rank_fields = body.get("rank_fields")
    if rank_fields is not None:
        if not isinstance(rank_fields, list) or not all(isinstance(f, str) for f in rank_fields):
            raise _BadRequest("'rank_fields' must be a list of strings", code="invalid_request_error")
        if isinstance(documents[0], str):
            raise _BadRequest("'rank_fields' needs documents that are objects", code="invalid_request_error")
    top_n = body.get("top_n")
    if top_n is not None and (not isinstance(top_n, int) or isinstance(top_n, bool) or top_n < 1):
        raise _BadRequest("'top_n' must be an integer >= 1", code="invalid_request_error")
    texts = [_document_text(d, rank_fields) for d in documents]
    scored = sorted(
        ((rerank_score(query, text), index) for index, text in enumerate(texts)), key=lambda p: (-p[0], p[1])
    )
    if top_n is not None:
        scored = scored[:top_n]
    return_documents = body.get("return_documents") is True
    results = []
    for score, index in scored:
        document = documents[index]
        text = (document if isinstance(document, str) else json.dumps(document)) if return_documents else None
        results.append({"index": index, "relevance_score": score, "document": {"text": text}})
    query_tokens = max(1, _word_count(query))
    tokens = sum(query_tokens + max(1, _word_count(text)) for text in texts)
    return JSONResponse(
        {
            "object": "rerank",
            "id": str(uuid.uuid4()),
            "model": model,
            "results": results,
            "usage": {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens},
        }
    )
