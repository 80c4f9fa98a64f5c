"""TogetherAdapter.embeddings (embed + rerank) against the local Together fake (spec-checked requests)."""

from __future__ import annotations

import base64
import math
import struct
from typing import Any

import pytest

from polyface import TogetherAdapter
from polyface.capabilities import Embeddings
from polyface.errors import AuthenticationError, InvalidArgument, InvalidRequest, NotFound, ServerError
from polyface.testing.fake_together import FakeTogether
from polyface.types.models import Pricing
from polyface.wire import openai_embeddings as wire

BGE = "BAAI/bge-base-en-v1.5"  # 768 dimensions, $0.008 / Mtok in the fake's catalog
BGE_PRICE = 0.008 / 1_000_000
RERANK = "Salesforce/Llama-Rank-v1"  # not in the fake's default catalog

TEXTS = ["the quick brown fox", "jumps over the lazy dog", "a fox is quick", "paris in spring", "lazy days"]


def adapter_for(fake: FakeTogether, **options: Any) -> TogetherAdapter:
    return TogetherAdapter(api_key=fake.api_key, base_url=fake.base_url, **options)


def sent(fake: FakeTogether, path: str) -> list[Any]:
    return [r.json for r in fake.requests if r.path == path]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def words(texts: list[str]) -> int:
    return sum(len(t.split()) for t in texts)


# ---- embed -----------------------------------------------------------------------------------------------
def test_embed_returns_unit_vectors_in_order_with_usage_and_cost(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        reply = together.embeddings.embed(model=BGE, inputs=TEXTS[:3])
        alone = together.embeddings.embed(model=BGE, inputs=TEXTS[2])
    assert reply.provider == "together" and reply.model == BGE
    assert len(reply.vectors) == 3 and reply.dimensions == 768
    assert all(isinstance(x, float) for x in reply.vectors[0])
    assert all(math.isclose(cosine(v, v), 1.0, rel_tol=1e-9) for v in reply.vectors)
    assert reply.vectors[2] == alone.vectors[0], "vector i must belong to input i"
    assert reply.usage.input_tokens == words(TEXTS[:3]) == 13
    assert reply.cost == pytest.approx(13 * BGE_PRICE)
    bodies = sent(fake_together, "/v1/embeddings")
    assert bodies == [{"model": BGE, "input": TEXTS[:3]}, {"model": BGE, "input": [TEXTS[2]]}]
    # the fake's bag-of-words vectors make shared words count
    assert cosine(reply.vectors[0], reply.vectors[2]) > cosine(reply.vectors[0], reply.vectors[1])


def test_batch_size_splits_requests_and_merges_in_order(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        whole = together.embeddings.embed(model=BGE, inputs=TEXTS)
        batched = together.embeddings.embed(model=BGE, inputs=TEXTS, batch_size=2)
    bodies = sent(fake_together, "/v1/embeddings")
    assert [b["input"] for b in bodies[1:]] == [TEXTS[0:2], TEXTS[2:4], TEXTS[4:5]]
    assert batched.vectors == whole.vectors
    assert batched.usage.input_tokens == whole.usage.input_tokens == words(TEXTS)
    assert batched.cost == pytest.approx(whole.cost)


async def test_async_embed_batches_concurrently_and_matches_sync(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        expected = together.embeddings.embed(model=BGE, inputs=TEXTS)
    async with adapter_for(fake_together) as together:
        reply = await together.embeddings.aembed(model=BGE, inputs=TEXTS, batch_size=3)
    assert reply.vectors == expected.vectors
    assert reply.usage.input_tokens == words(TEXTS)
    assert reply.cost == pytest.approx(words(TEXTS) * BGE_PRICE)
    assert sorted(len(b["input"]) for b in sent(fake_together, "/v1/embeddings")[1:]) == [2, 3]


def test_embed_bad_inputs_fail_before_sending(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        embeddings = together.embeddings
        with pytest.raises(InvalidArgument, match="at least one input"):
            embeddings.embed(model=BGE, inputs=[])
        with pytest.raises(InvalidArgument, match="input #1 is empty"):
            embeddings.embed(model=BGE, inputs=["fine", "  "])
        with pytest.raises(InvalidArgument, match="input #0 is a int"):
            embeddings.embed(model=BGE, inputs=[3])  # type: ignore[list-item]
        with pytest.raises(InvalidArgument, match="batch_size"):
            embeddings.embed(model=BGE, inputs=["a"], batch_size=0)
        with pytest.raises(InvalidArgument, match="does not take 'dimensions'"):
            embeddings.embed(model=BGE, inputs=["a"], dimensions=256)
        with pytest.raises(InvalidArgument, match="model"):
            embeddings.embed(model="", inputs=["a"])
    assert fake_together.requests == []


def test_extra_body_reaches_the_wire(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        together.embeddings.embed(model=BGE, inputs="hello", extra_body={"input": "ignored", "user": "u1"})
    assert sent(fake_together, "/v1/embeddings") == [{"model": BGE, "input": ["hello"], "user": "u1"}]


def test_vendor_errors_are_mapped(fake_together: FakeTogether) -> None:
    fake_together.fail("/v1/embeddings", 401)
    fake_together.fail(
        "/v1/rerank", 404, body={"error": {"message": "model zzz not found", "type": "model_not_found"}}
    )
    with adapter_for(fake_together, max_retries=0) as together:
        with pytest.raises(AuthenticationError) as auth:
            together.embeddings.embed(model=BGE, inputs=["a"])
        with pytest.raises(NotFound, match="model zzz not found"):
            together.embeddings.rerank(model="zzz", query="q", documents=["d"])
    assert auth.value.status == 401 and fake_together.api_key not in str(auth.value)


def test_vendor_400_says_why(fake_together: FakeTogether) -> None:
    fake_together.fail(
        "/v1/embeddings",
        400,
        body={
            "error": {
                "message": "input is too long for BAAI/bge-base-en-v1.5",
                "type": "invalid_request_error",
            }
        },
    )
    with adapter_for(fake_together) as together, pytest.raises(InvalidRequest, match="too long"):
        together.embeddings.embed(model=BGE, inputs=["a"])


def test_an_answer_with_the_wrong_number_of_vectors_is_a_server_error(fake_together: FakeTogether) -> None:
    fake_together.fail("/v1/embeddings", 200, body={"object": "list", "model": BGE, "data": []})
    with adapter_for(fake_together) as together, pytest.raises(ServerError, match="2 inputs were sent but 0"):
        together.embeddings.embed(model=BGE, inputs=["a", "b"])


def test_cost_is_none_without_a_price(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        reply = together.embeddings.embed(model="intfloat/multilingual-e5-large-instruct", inputs=["hola"])
    assert reply.dimensions == 1024 and reply.usage.input_tokens == 1 and reply.cost is None


# ---- rerank ----------------------------------------------------------------------------------------------
DOCS = ["llamas live in Peru", "pandas live in China", "camels in the desert", "Peru has llamas and alpacas"]


def test_rerank_orders_by_relevance(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        reply = together.embeddings.rerank(model=RERANK, query="llamas in Peru", documents=DOCS)
    assert reply.provider == "together" and reply.model == RERANK and reply.id
    assert reply.indices[:2] in ([0, 3], [3, 0]) and reply.indices[-1] in (1, 2)
    assert [r.index for r in reply.results] == reply.indices, "results come most relevant first"
    scores = [r.relevance_score for r in reply.results]
    assert scores == sorted(scores, reverse=True) and scores[0] == 1.0
    assert all(r.document is None for r in reply.results)
    assert reply.usage.input_tokens > 0 and reply.cost is None  # no price for the model
    assert sent(fake_together, "/v1/rerank") == [
        {"model": RERANK, "query": "llamas in Peru", "documents": DOCS}
    ]


def test_rerank_top_n_return_documents_and_cost(fake_together: FakeTogether) -> None:
    pricing = {RERANK: Pricing(input_per_mtok=0.1)}
    with adapter_for(fake_together, pricing=pricing) as together:
        reply = together.embeddings.rerank(
            model=RERANK, query="pandas China", documents=DOCS, top_n=1, return_documents=True
        )
    assert [(r.index, r.document) for r in reply.results] == [(1, "pandas live in China")]
    assert reply.cost == pytest.approx(reply.usage.input_tokens * 0.1 / 1_000_000)
    body = sent(fake_together, "/v1/rerank")[0]
    assert body["top_n"] == 1 and body["return_documents"] is True


def test_rerank_objects_by_rank_fields(fake_together: FakeTogether) -> None:
    docs = [{"title": "Panda", "text": "a bear in China"}, {"title": "Llama", "text": "found in Peru"}]
    with adapter_for(fake_together) as together:
        reply = together.embeddings.rerank(
            model=RERANK, query="llama", documents=docs, rank_fields=["title"], return_documents=True
        )
    assert reply.indices == [1, 0]
    assert reply.results[0].document is not None and '"Llama"' in reply.results[0].document
    assert sent(fake_together, "/v1/rerank")[0]["rank_fields"] == ["title"]


async def test_async_rerank(fake_together: FakeTogether) -> None:
    async with adapter_for(fake_together) as together:
        reply = await together.embeddings.arerank(
            model=RERANK, query="camels desert", documents=DOCS, top_n=2
        )
    assert reply.indices[0] == 2 and len(reply.results) == 2


def test_rerank_bad_inputs_fail_before_sending(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        rerank = together.embeddings.rerank
        with pytest.raises(InvalidArgument, match="at least one document"):
            rerank(model=RERANK, query="q", documents=[])
        with pytest.raises(InvalidArgument, match="non-empty query"):
            rerank(model=RERANK, query=" ", documents=["d"])
        with pytest.raises(InvalidArgument, match="all strings or all dicts"):
            rerank(model=RERANK, query="q", documents=["d", {"text": "e"}])
        with pytest.raises(InvalidArgument, match="top_n"):
            rerank(model=RERANK, query="q", documents=["d"], top_n=0)
        with pytest.raises(InvalidArgument, match="rank_fields only applies"):
            rerank(model=RERANK, query="q", documents=["d"], rank_fields=["text"])
        with pytest.raises(InvalidArgument, match="not a single value"):
            rerank(model=RERANK, query="q", documents="just one")
    assert fake_together.requests == []


# ---- catalog and protocol --------------------------------------------------------------------------------
def test_supports_per_model_and_protocol(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        assert together.supports(BGE, "embeddings") is True
        assert together.supports(BGE, "image") is False
        assert together.supports("black-forest-labs/FLUX.1-schnell", "embeddings") is False
        assert isinstance(together.embeddings, Embeddings)


# ---- the pure wire format --------------------------------------------------------------------------------
def test_wire_parses_base64_vectors_and_reorders_by_index() -> None:
    packed = base64.b64encode(struct.pack("<3f", 0.5, -1.0, 2.0)).decode()
    data = {
        "object": "list",
        "data": [{"index": 1, "embedding": [1, 2, 3]}, {"index": 0, "embedding": packed}],
    }
    reply = wire.parse_embeddings_response(data, provider="p", model="m", expected=2)
    assert reply.vectors == [[0.5, -1.0, 2.0], [1.0, 2.0, 3.0]]
    assert not wire.usage_reported(reply.raw) and reply.usage.input_tokens == 0
    with pytest.raises(wire.EmbeddingsFormatError, match="indexes"):
        wire.parse_embeddings_response(
            {"data": [{"index": 0, "embedding": [1]}, {"index": 0, "embedding": [2]}]},
            provider="p",
            model="m",
        )
