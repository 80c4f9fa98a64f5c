"""The local provider's embeddings: all-MiniLM-L6-v2, unit vectors, paraphrases close, reranking."""

from __future__ import annotations

import pytest

from polyface import LocalAdapter
from polyface.errors import InvalidArgument, NotFound

MODEL = "all-minilm-l6-v2"


def dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_paraphrases_are_closer_than_unrelated_sentences(local: LocalAdapter) -> None:
    response = local.embeddings.embed(
        model=MODEL,
        inputs=[
            "The cat sat on the mat.",
            "A cat was sitting on a rug.",
            "Quarterly stock prices fell sharply.",
            "How do I bake bread?",
            "What is a recipe for a loaf of bread?",
        ],
    )
    v = response.vectors
    assert response.dimensions == 384 and len(v) == 5
    assert all(abs(dot(x, x) - 1.0) < 1e-4 for x in v)
    assert dot(v[0], v[1]) > dot(v[0], v[2]) + 0.3
    assert dot(v[3], v[4]) > dot(v[3], v[2]) + 0.3
    assert response.usage.input_tokens > 20 and response.cost == 0.0


def test_batches_give_the_same_vectors_as_single_calls(local: LocalAdapter) -> None:
    texts = [f"sentence number {i} about {'cats' if i % 2 else 'finance'}" for i in range(40)]
    together = local.embeddings.embed(model=MODEL, inputs=texts).vectors
    alone = local.embeddings.embed(model=MODEL, inputs=[texts[37]]).vectors[0]
    assert dot(together[37], alone) > 0.9999


def test_rerank_puts_the_relevant_document_first(local: LocalAdapter) -> None:
    docs = [
        "Interest rates rose again.",
        "My dog loves to fetch sticks.",
        "The puppy chased a ball in the park.",
    ]
    ranked = local.embeddings.rerank(
        model=MODEL,
        query="a young dog chasing a ball outdoors",
        documents=docs,
        top_n=2,
        return_documents=True,
    )
    assert [r.index for r in ranked.results] == [2, 1]
    assert ranked.results[0].document == docs[2]
    assert ranked.results[0].relevance_score > ranked.results[1].relevance_score


async def test_async_twins(local: LocalAdapter) -> None:
    response = await local.embeddings.aembed(model=MODEL, inputs=["hello"])
    assert response.dimensions == 384
    ranked = await local.embeddings.arerank(model=MODEL, query="hi", documents=["hello", "tax law"])
    assert ranked.indices == [0, 1]


def test_bad_input_is_refused(local: LocalAdapter) -> None:
    with pytest.raises(InvalidArgument, match="empty"):
        local.embeddings.embed(model=MODEL, inputs=[])
    with pytest.raises(InvalidArgument, match="must be a string"):
        local.embeddings.embed(model=MODEL, inputs=["ok", 3])  # type: ignore[list-item]
    with pytest.raises(InvalidArgument, match="384"):
        local.embeddings.embed(model=MODEL, inputs=["ok"], dimensions=64)
    with pytest.raises(NotFound, match=MODEL):
        local.embeddings.embed(model="text-embedding-3-small", inputs=["ok"])
