"""OpenAIAdapter.embeddings against the local OpenAI fake (requests checked against OpenAI's spec)."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import httpx
import pytest

from openai_spec import OPENAI
from polyface.capabilities import Embeddings
from polyface.errors import CapabilityNotSupported, InvalidArgument
from polyface.providers.openai import OpenAIAdapter
from polyface.testing.fake_openai import FakeOpenAI

SMALL = "text-embedding-3-small"  # $0.02 per 1M tokens in the shipped table


def adapter_for(fake: FakeOpenAI, **options: Any) -> OpenAIAdapter:
    return OpenAIAdapter(api_key=fake.api_key, base_url=fake.base_url, **options)


def bodies(fake: FakeOpenAI) -> list[Any]:
    return [r.json for r in fake.requests if r.path == "/v1/embeddings"]


def test_embed_returns_vectors_in_order_with_usage_and_table_cost(fake_openai: FakeOpenAI) -> None:
    with adapter_for(fake_openai) as openai:
        reply = openai.embeddings.embed(model=SMALL, inputs=["family first", "fast cars", "family first"])
    assert reply.dimensions == 1536 and len(reply.vectors) == 3
    assert reply.vectors[0] == reply.vectors[2] != reply.vectors[1]
    assert reply.usage.input_tokens == 6 and reply.cost == pytest.approx(6 * 0.02 / 1_000_000)
    assert bodies(fake_openai) == [{"model": SMALL, "input": ["family first", "fast cars", "family first"]}]


def test_dimensions_shorten_vectors_and_are_checked_first(fake_openai: FakeOpenAI) -> None:
    with adapter_for(fake_openai) as openai:
        reply = openai.embeddings.embed(model=SMALL, inputs="hello world", dimensions=64, user="user-1")
        with pytest.raises(InvalidArgument, match="always returns 1536"):
            openai.embeddings.embed(model="text-embedding-ada-002", inputs="x", dimensions=64)
        with pytest.raises(InvalidArgument, match="at most 1536"):
            openai.embeddings.embed(model=SMALL, inputs="x", dimensions=4096)
        with pytest.raises(InvalidArgument, match="whole number"):
            openai.embeddings.embed(model=SMALL, inputs="x", dimensions=0)
        with pytest.raises(InvalidArgument, match="does not take 'top_k'"):
            openai.embeddings.embed(model=SMALL, inputs="x", top_k=3)
        with pytest.raises(InvalidArgument, match="encoding_format"):
            openai.embeddings.embed(model=SMALL, inputs="x", encoding_format="int8")
    assert reply.dimensions == 64
    assert math.sqrt(sum(v * v for v in reply.vectors[0])) == pytest.approx(1.0)
    assert bodies(fake_openai) == [
        {"model": SMALL, "input": ["hello world"], "dimensions": 64, "user": "user-1"}
    ]


def test_base64_answers_decode_to_the_same_vectors(fake_openai: FakeOpenAI) -> None:
    with adapter_for(fake_openai) as openai:
        floats = openai.embeddings.embed(model="text-embedding-3-large", inputs=["a b c"], dimensions=32)
        packed = openai.embeddings.embed(
            model="text-embedding-3-large", inputs=["a b c"], dimensions=32, encoding_format="base64"
        )
    assert packed.vectors[0] == pytest.approx(floats.vectors[0], rel=1e-6)
    assert bodies(fake_openai)[1]["encoding_format"] == "base64"


def test_more_than_2048_inputs_are_split_into_requests_of_2048(fake_openai: FakeOpenAI) -> None:
    texts = [f"text {i}" for i in range(2050)]
    with adapter_for(fake_openai) as openai:
        reply = openai.embeddings.embed(model=SMALL, inputs=texts, dimensions=1)
        with pytest.raises(InvalidArgument, match="at most 2048"):
            openai.embeddings.embed(model=SMALL, inputs=texts, batch_size=4096)
    assert [len(b["input"]) for b in bodies(fake_openai)] == [2048, 2]
    assert len(reply.vectors) == 2050 and reply.usage.input_tokens == 2 * 2050


def test_aembed_batches_concurrently_in_order(fake_openai: FakeOpenAI) -> None:
    texts = [f"word{i}" for i in range(10)]

    async def main() -> Any:
        async with adapter_for(fake_openai) as openai:
            return await openai.embeddings.aembed(model=SMALL, inputs=texts, batch_size=3, dimensions=8)

    reply = asyncio.run(main())
    with adapter_for(fake_openai) as openai:
        one = openai.embeddings.embed(model=SMALL, inputs=texts[7], dimensions=8)
    assert len(reply.vectors) == 10 and reply.vectors[7] == pytest.approx(one.vectors[0])
    assert sorted(len(b["input"]) for b in bodies(fake_openai)[:-1]) == [1, 3, 3, 3]


def test_rerank_is_not_offered_and_says_who_has_it(fake_openai: FakeOpenAI) -> None:
    with adapter_for(fake_openai) as openai:
        assert isinstance(openai.embeddings, Embeddings)
        with pytest.raises(CapabilityNotSupported, match="together"):
            openai.embeddings.rerank(model="x", query="q", documents=["d"])
        with pytest.raises(CapabilityNotSupported, match="rerank"):
            asyncio.run(openai.embeddings.arerank(model="x", query="q", documents=["d"]))
    assert fake_openai.requests == []


# (With encoding_format="base64" OpenAI answers a string per embedding, which its spec's Embedding schema, an
# array of floats, does not describe; test_base64_answers_decode_to_the_same_vectors covers that answer.)
@pytest.mark.parametrize("extra", [{}, {"dimensions": 16, "user": "u-1"}])
def test_the_fakes_answers_match_openais_spec(fake_openai: FakeOpenAI, extra: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {fake_openai.api_key}"}
    with httpx.Client(base_url=fake_openai.base_url, headers=headers) as client:
        response = client.post("/embeddings", json={"model": SMALL, "input": ["x y"], **extra})
    req = fake_openai.requests[-1]
    assert response.status_code == 200
    assert OPENAI.response_problems(req, 200, response.headers, response.content) == []
