"""TogetherAdapter.text end to end against the local Together fake (requests checked against the spec)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from polyface import TogetherAdapter
from polyface.errors import InvalidArgument
from polyface.testing.fake_together import FakeTogether

CHAT = "meta-llama/Llama-3.3-70B-Instruct-Turbo"  # $0.88 / Mtok in and out in the fake's catalog
PRICE = 0.88 / 1_000_000


def adapter_for(fake: FakeTogether, **options: Any) -> TogetherAdapter:
    return TogetherAdapter(api_key=fake.api_key, base_url=fake.base_url, **options)


def chat_requests(fake: FakeTogether) -> list[Any]:
    return [r for r in fake.requests if r.path == "/v1/chat/completions"]


def test_generate_sets_text_usage_cost_and_finish_reason(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        reply = together.text.generate(
            model=CHAT, messages=[{"role": "user", "content": "Say hi like an action hero"}]
        )
    assert reply.text == "Echo: Say hi like an action hero"
    assert reply.finish_reason == "stop"
    assert reply.provider == "together" and reply.model == CHAT and reply.id
    assert reply.usage.input_tokens == 6 and reply.usage.output_tokens == 7 and reply.usage.total_tokens == 13
    assert reply.cost == pytest.approx(13 * PRICE)
    sent = chat_requests(fake_together)[0]
    assert sent.headers["authorization"] == f"Bearer {fake_together.api_key}"
    assert sent.json == {
        "model": CHAT,
        "messages": [{"role": "user", "content": "Say hi like an action hero"}],
    }


def test_options_system_prompt_and_together_extras_reach_the_wire(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        reply = together.text.generate(
            model=CHAT, messages="one two three four", system="terse", max_tokens=2, top_k=5, stop="END"
        )
        with pytest.raises(InvalidArgument, match="does not take 'top_kk'"):
            together.text.generate(model=CHAT, messages="x", top_kk=5)
    assert reply.finish_reason == "length"
    assert reply.text == "Echo: one"
    body = chat_requests(fake_together)[0].json
    assert body["messages"][0] == {"role": "system", "content": "terse"}
    assert body["max_tokens"] == 2 and body["top_k"] == 5 and body["stop"] == ["END"]
    assert len(chat_requests(fake_together)) == 1, "a bad option must fail before anything is sent"


def test_catalog_is_fetched_once_and_shared(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        for _ in range(3):
            together.text.generate(model=CHAT, messages="hi")
        catalog = together.models()
        assert {m.id for m in catalog} >= {CHAT}
        llama = next(m for m in catalog if m.id == CHAT)
        assert llama.modality == "text" and llama.pricing is not None and llama.pricing.input_per_mtok == 0.88
    assert sum(r.path == "/v1/models" for r in fake_together.requests) == 1


def test_catalog_ttl_expiry_refetches(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together, catalog_ttl=0.0) as together:
        together.text.generate(model=CHAT, messages="hi")
        together.text.generate(model=CHAT, messages="hi")
    assert sum(r.path == "/v1/models" for r in fake_together.requests) == 2


def test_cost_is_none_for_unpriced_models_and_pricing_overrides_apply(fake_together: FakeTogether) -> None:
    from polyface import Pricing

    with adapter_for(fake_together, pricing={"me/ft-model": Pricing(input_per_mtok=1e6)}) as together:
        assert together.text.generate(model="someone/unlisted", messages="a b").cost is None
        priced = together.text.generate(model="me/ft-model", messages="a b")
    assert priced.cost == pytest.approx(priced.usage.input_tokens * 1.0)


def test_stream_yields_deltas_then_usage_and_cost(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        stream = together.text.stream(model=CHAT, messages="tell me about family")
        deltas = list(stream)
        whole = together.text.generate(model=CHAT, messages="tell me about family")
    texts = [d.text for d in deltas if d.text]
    assert len(texts) >= 3, "text should arrive in pieces"
    assert "".join(texts) == whole.text == stream.text
    final = deltas[-1]
    assert final.text == "" and final.finish_reason == "stop"
    assert final.usage == whole.usage and final.cost == pytest.approx(whole.cost)
    assert stream.usage == whole.usage and stream.done
    assert chat_requests(fake_together)[0].json["stream"] is True


def test_stopping_a_stream_early_closes_its_connection(fake_together: FakeTogether) -> None:
    fake_together.slow_stream(interval=0.05, chunks=2000)
    with adapter_for(fake_together) as together:
        got = []
        for delta in together.text.stream(model=CHAT, messages="go on forever"):
            got.append(delta.text)
            if len(got) == 3:
                break
        deadline = time.monotonic() + 5
        while fake_together.streams_cancelled < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert fake_together.streams_cancelled == 1
    assert len(got) == 3


def test_stream_used_as_context_manager_closes_on_exit(fake_together: FakeTogether) -> None:
    fake_together.slow_stream(interval=0.05, chunks=2000)
    with adapter_for(fake_together) as together, together.text.stream(model=CHAT, messages="x") as stream:
        first = next(iter(stream))
    assert first.text
    deadline = time.monotonic() + 5
    while fake_together.streams_cancelled < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake_together.streams_cancelled == 1


def test_stream_dropped_mid_way_raises_a_clear_error_after_the_partial_text(
    fake_together: FakeTogether,
) -> None:
    from polyface.errors import ProviderUnavailable

    fake_together.drop_stream(after_chunks=2)
    with adapter_for(fake_together) as together:
        stream = together.text.stream(model=CHAT, messages="one two three four five six")
        with pytest.raises(ProviderUnavailable, match=r"dropped|ended"):
            for _ in stream:
                pass
    assert stream.text, "the text that arrived before the drop is kept"
    assert not stream.done


def test_complete_raw_prompt_and_its_stream(fake_together: FakeTogether) -> None:
    with adapter_for(fake_together) as together:
        reply = together.text.complete(model="mistralai/Mixtral-8x7B-v0.1", prompt="Once upon a time")
        streamed = together.text.stream_complete(
            model="mistralai/Mixtral-8x7B-v0.1", prompt="Once upon a time"
        )
        text = streamed.until_done().text
    assert reply.text.strip() == "echo: Once upon a time"
    assert text.strip() == reply.text.strip()
    assert reply.cost == pytest.approx(reply.usage.total_tokens * 0.6 / 1_000_000)


def test_tools_and_json_formats_pass_through(fake_together: FakeTogether) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    with adapter_for(fake_together) as together:
        reply = together.text.generate(
            model=CHAT, messages="what is the weather", tools=[tool], tool_choice="auto"
        )
        as_json = together.text.generate(
            model=CHAT, messages="hello", response_format={"type": "json_object"}
        )
    assert reply.finish_reason == "tool_calls"
    assert reply.tool_calls[0].function.name == "get_weather"
    assert json.loads(reply.tool_calls[0].function.arguments) == {"city": "Paris"}
    assert json.loads(as_json.text) == {"echo": "hello"}
    assert chat_requests(fake_together)[0].json["tools"] == [tool]


def test_a_tool_conversation_round_trips(fake_together: FakeTogether) -> None:
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    with adapter_for(fake_together) as together:
        messages: list[Any] = [{"role": "user", "content": "what is the weather"}]
        first = together.text.generate(model=CHAT, messages=messages, tools=[tool])
        messages += [
            first.message,
            {"role": "tool", "tool_call_id": first.tool_calls[0].id, "content": '{"temp": 21}'},
            {"role": "user", "content": "thanks"},
        ]
        second = together.text.generate(model=CHAT, messages=messages, tools=[tool])
    assert second.text == "Echo: thanks"
    replayed = chat_requests(fake_together)[1].json["messages"][1]
    assert replayed["role"] == "assistant"
    assert replayed["tool_calls"][0]["function"]["name"] == "get_weather"
    assert replayed["tool_calls"][0]["index"] == 0  # Together's spec requires it


async def test_async_twins(fake_together: FakeTogether) -> None:
    async with adapter_for(fake_together) as together:
        reply = await together.text.agenerate(model=CHAT, messages="async hi")
        stream = together.text.astream(model=CHAT, messages="async hi")
        parts = [d.text async for d in stream]
        completion = await together.text.acomplete(model="mistralai/Mixtral-8x7B-v0.1", prompt="p")
        many = await asyncio.gather(
            *(together.text.agenerate(model=CHAT, messages=f"n {i}") for i in range(64))
        )
    assert reply.text == "Echo: async hi" and reply.cost == pytest.approx(reply.usage.total_tokens * PRICE)
    assert "".join(parts) == reply.text and stream.cost == pytest.approx(reply.cost)
    assert completion.text.strip() == "echo: p"
    assert sorted(r.text for r in many) == sorted(f"Echo: n {i}" for i in range(64))
    assert sum(r.path == "/v1/models" for r in fake_together.requests) == 1


async def test_concurrent_first_calls_fetch_the_catalog_once(fake_together: FakeTogether) -> None:
    async with adapter_for(fake_together) as together:
        calls = [together.text.agenerate(model=CHAT, messages="hi") for _ in range(16)]
        replies = await asyncio.gather(*calls)
    assert all(r.cost is not None for r in replies)
    assert sum(r.path == "/v1/models" for r in fake_together.requests) == 1


async def test_catalog_outage_leaves_cost_unknown_and_is_tried_once(
    fake_together: FakeTogether, caplog: pytest.LogCaptureFixture
) -> None:
    fake_together.fail("/v1/models", status=400, times=100)
    async with adapter_for(fake_together) as together:
        calls = [together.text.agenerate(model=CHAT, messages="hi") for _ in range(8)]
        replies = await asyncio.gather(*calls)
        assert together.text.generate(model=CHAT, messages="sync").cost is None
    assert [r.text for r in replies] == ["Echo: hi"] * 8
    assert all(r.cost is None for r in replies)
    assert sum(r.path == "/v1/models" for r in fake_together.requests) == 1
    assert caplog.text.count("could not fetch the model catalog") == 1


async def test_async_stream_stopped_early_closes_its_connection(fake_together: FakeTogether) -> None:
    fake_together.slow_stream(interval=0.05, chunks=2000)
    async with adapter_for(fake_together) as together:
        stream = together.text.astream(model=CHAT, messages="x")
        async with stream:
            async for _ in stream:
                break
        deadline = time.monotonic() + 5
        while fake_together.streams_cancelled < 1 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    assert fake_together.streams_cancelled == 1
