"""OpenAIAdapter.text end to end against the local OpenAI fake (requests checked against the spec)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from openai_spec import OPENAI
from polyface.capabilities import TextGeneration
from polyface.errors import AuthenticationError, InvalidArgument, NotFound
from polyface.providers.openai import OpenAIAdapter
from polyface.providers.openai.config import OpenAIConfig, modality_of
from polyface.providers.openai.text import strict_schema
from polyface.testing.fake_openai import FakeOpenAI
from polyface.testing.fake_openai.chat import default_models
from polyface.types.models import Pricing
from polyface.wire import openai_chat as wire

CHAT = "gpt-4o-mini"  # $0.15 in / $0.60 out per 1M tokens in the shipped table
IN, OUT = 0.15 / 1_000_000, 0.60 / 1_000_000
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def adapter_for(fake: FakeOpenAI, **options: Any) -> OpenAIAdapter:
    return OpenAIAdapter(api_key=fake.api_key, base_url=fake.base_url, **options)


def sent(fake: FakeOpenAI, path: str = "/v1/chat/completions") -> list[Any]:
    return [r.json for r in fake.requests if r.path == path]


def test_generate_translates_max_tokens_and_prices_from_the_table(fake_openai: FakeOpenAI) -> None:
    with adapter_for(fake_openai) as openai:
        reply = openai.text.generate(
            model=CHAT, messages="Say hi like an action hero", system="terse", max_tokens=3
        )
    assert reply.text == "Echo: Say hi"
    assert reply.finish_reason == "length" and reply.provider == "openai" and reply.model == CHAT
    assert reply.usage.input_tokens == 7 and reply.usage.output_tokens == 3  # words, system prompt included
    assert reply.cost == pytest.approx(7 * IN + 3 * OUT)
    body = sent(fake_openai)[0]
    assert body == {
        "model": CHAT,
        "messages": [
            {"role": "system", "content": "terse"},
            {"role": "user", "content": "Say hi like an action hero"},
        ],
        "max_completion_tokens": 3,
    }
    chat = next(r for r in fake_openai.requests if r.path == "/v1/chat/completions")
    assert chat.headers["authorization"] == f"Bearer {fake_openai.api_key}"


def test_reasoning_models_get_max_completion_tokens(fake_openai: FakeOpenAI) -> None:
    # The fake, like OpenAI, refuses max_tokens for o-series models: this passes only because it is renamed.
    with adapter_for(fake_openai) as openai:
        reply = openai.text.generate(
            model="o4-mini", messages="think hard", max_tokens=50, reasoning_effort="low"
        )
        with pytest.raises(InvalidArgument, match="not both"):
            openai.text.generate(model="o4-mini", messages="x", max_tokens=5, max_completion_tokens=5)
    assert reply.text == "Echo: think hard"
    assert reply.cost == pytest.approx((2 * 1.1 + 3 * 4.4) / 1_000_000)
    bodies = sent(fake_openai)
    assert len(bodies) == 1 and bodies[0]["reasoning_effort"] == "low" and "max_tokens" not in bodies[0]


@pytest.mark.together_spec_exempt(reason="sends max_tokens to a reasoning model on purpose, as a raw request")
def test_the_fake_refuses_what_openai_refuses(fake_openai: FakeOpenAI) -> None:
    headers = {"Authorization": f"Bearer {fake_openai.api_key}"}
    with httpx.Client(base_url=fake_openai.base_url, headers=headers) as client:
        legacy = client.post(
            "/chat/completions",
            json={"model": "o3", "messages": [{"role": "user", "content": "x"}], "max_tokens": 5},
        )
        options = client.post(
            "/chat/completions",
            json={
                "model": CHAT,
                "messages": [{"role": "user", "content": "x"}],
                "stream_options": {"include_usage": True},
            },
        )
        chat_on_legacy = client.post("/completions", json={"model": CHAT, "prompt": "x"})
    assert legacy.status_code == 400 and "max_completion_tokens" in legacy.json()["error"]["message"]
    assert options.status_code == 400 and "stream_options" in options.json()["error"]["message"]
    assert chat_on_legacy.status_code == 404


def test_openai_options_reach_the_wire_and_unknown_ones_fail_first(fake_openai: FakeOpenAI) -> None:
    with adapter_for(fake_openai) as openai:
        openai.text.generate(
            model=CHAT,
            messages="hi",
            parallel_tool_calls=False,
            store=True,
            metadata={"persona": "rex"},
            service_tier="flex",
            seed=7,
            stop="END",
            verbosity="low",
        )
        with pytest.raises(InvalidArgument, match="does not take 'top_k'"):
            openai.text.generate(model=CHAT, messages="x", top_k=5)
        with pytest.raises(InvalidArgument, match="metadata"):
            openai.text.generate(model=CHAT, messages="x", metadata={"n": 3})
        with pytest.raises(InvalidArgument, match="streams only"):
            openai.text.generate(model=CHAT, messages="x", stream_options={"include_usage": True})
    bodies = sent(fake_openai)
    assert len(bodies) == 1, "bad options must fail before anything is sent"
    body = bodies[0]
    assert body["parallel_tool_calls"] is False and body["store"] is True and body["service_tier"] == "flex"
    assert body["metadata"] == {"persona": "rex"} and body["stop"] == ["END"] and body["verbosity"] == "low"


def test_catalog_is_fetched_once_and_names_say_what_models_do(fake_openai: FakeOpenAI) -> None:
    fake_openai.models = default_models()
    with adapter_for(fake_openai) as openai:
        for _ in range(3):
            openai.text.generate(model=CHAT, messages="hi")
        catalog = {m.id: m for m in openai.models()}
        assert openai.supports(CHAT, "text") and openai.supports("text-embedding-3-small", "embeddings")
    assert sum(r.path == "/v1/models" for r in fake_openai.requests) == 1
    assert (
        catalog["gpt-4o-mini-tts"].modality == "speech" and catalog["gpt-4o-mini-tts"].context_length is None
    )
    assert catalog["gpt-4o-transcribe"].modality == "transcription"
    assert catalog["gpt-image-1"].modality == "image" and catalog["gpt-realtime"].modality == "other"
    assert catalog["gpt-4.1"].context_length == 1_047_576 and catalog["gpt-4o"].max_output_tokens == 16_384
    assert catalog["davinci-002"].supports_tools is False
    assert all(m.pricing is None for m in catalog.values()), (
        "OpenAI's list has no prices: the table supplies them"
    )


@pytest.mark.parametrize(
    ("model", "modality"),
    [
        ("gpt-5-mini", "text"),
        ("o3-pro", "text"),
        ("chatgpt-4o-latest", "text"),
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", "text"),
        ("text-embedding-3-large", "embeddings"),
        ("dall-e-2", "image"),
        ("gpt-image-1", "image"),
        ("tts-1-hd", "speech"),
        ("gpt-4o-mini-tts", "speech"),
        ("whisper-1", "transcription"),
        ("gpt-4o-mini-transcribe", "transcription"),
        ("sora-2", "video"),
        ("omni-moderation-latest", "moderation"),
        ("gpt-4o-realtime-preview", "other"),
        ("some-unknown-model", "other"),
    ],
)
def test_modality_is_inferred_from_the_model_name(model: str, modality: str) -> None:
    assert modality_of(model) == modality


def test_parse_models_skips_malformed_entries() -> None:
    config = OpenAIConfig(api_key="sk-test")
    models = config.parse_models(
        {"object": "list", "data": [{"id": "gpt-4o", "owned_by": "system"}, {"x": 1}, "y"]}
    )
    assert [(m.id, m.owned_by, m.modality) for m in models] == [("gpt-4o", "system", "text")]


def test_stream_asks_for_usage_and_reads_the_usage_chunk(fake_openai: FakeOpenAI) -> None:
    with adapter_for(fake_openai) as openai:
        stream = openai.text.stream(
            model=CHAT, messages="one two three", stream_options={"include_obfuscation": False}
        )
        deltas = list(stream)
    assert "".join(d.text for d in deltas) == "Echo: one two three" == stream.text
    final = deltas[-1]
    assert final.finish_reason == "stop" and final.usage is not None
    assert final.usage.input_tokens == 3 and final.usage.output_tokens == 4
    assert final.cost == pytest.approx(3 * IN + 4 * OUT) and stream.cost == final.cost
    body = sent(fake_openai)[0]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_obfuscation": False, "include_usage": True}


def test_stream_assembler_reads_usage_from_a_chunk_without_choices() -> None:
    assembler = wire.StreamAssembler("gpt-4o")
    assert assembler.feed(
        {
            "id": "c",
            "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}],
            "usage": None,
        }
    )
    assert (
        assembler.feed(
            {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": None}
        )
        is None
    )
    assert (
        assembler.feed(
            {
                "id": "c",
                "choices": [],
                "usage": {"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 5},
            }
        )
        is None
    )
    final = assembler.final(None)
    assert final.finish_reason == "stop" and final.usage is not None and final.usage.total_tokens == 5


def test_async_generate_and_stream(fake_openai: FakeOpenAI) -> None:
    async def main() -> tuple[Any, Any]:
        async with adapter_for(fake_openai) as openai:
            reply, _ = await asyncio.gather(
                openai.text.agenerate(model=CHAT, messages="async hello", max_tokens=10),
                openai.text.agenerate(model=CHAT, messages="again"),
            )
            stream = openai.text.astream(model=CHAT, messages="async stream")
            async for _delta in stream:
                pass
            return reply, stream

    reply, stream = asyncio.run(main())
    assert reply.text == "Echo: async hello" and reply.cost == pytest.approx(2 * IN + 3 * OUT)
    assert stream.text == "Echo: async stream" and stream.usage.output_tokens == 3
    assert all("max_tokens" not in body for body in sent(fake_openai))
    assert sum(r.path == "/v1/models" for r in fake_openai.requests) <= 1


def test_tool_calls_whole_and_streamed(fake_openai: FakeOpenAI) -> None:
    with adapter_for(fake_openai) as openai:
        reply = openai.text.generate(
            model=CHAT, messages="weather in Paris?", tools=TOOLS, tool_choice="auto"
        )
        pieces = list(openai.text.stream(model=CHAT, messages="weather in Paris?", tools=TOOLS))
        followup = openai.text.generate(
            model=CHAT,
            messages=[
                {"role": "user", "content": "weather in Paris?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [c.model_dump() for c in reply.tool_calls],
                },
                {"role": "tool", "tool_call_id": reply.tool_calls[0].id, "content": "sunny"},
            ],
            tools=TOOLS,
            tool_choice="none",
        )
    assert reply.finish_reason == "tool_calls" and reply.tool_calls[0].function.name == "get_weather"
    assert json.loads(reply.tool_calls[0].function.arguments) == {"city": "Paris"}
    calls = [c for d in pieces for c in d.tool_calls]
    assert calls[0].name == "get_weather" and calls[0].id == reply.tool_calls[0].id
    assert json.loads("".join(c.arguments for c in calls)) == {"city": "Paris"}
    assert len(calls) > 2, "the arguments arrive in several pieces, as OpenAI sends them"
    assert pieces[-1].finish_reason == "tool_calls"
    assert followup.text == "Echo: weather in Paris?"
    replayed = sent(fake_openai)[2]["messages"][1]["tool_calls"][0]
    assert "index" not in replayed, "OpenAI's replayed tool calls carry no index"


class Hero(BaseModel):
    echo: str
    catchphrase: str | None = None


def test_pydantic_response_format_becomes_a_strict_schema(fake_openai: FakeOpenAI) -> None:
    with adapter_for(fake_openai) as openai:
        reply = openai.text.generate(model=CHAT, messages="family first", response_format=Hero)
    assert Hero.model_validate_json(reply.text).echo == "family first"
    fmt = sent(fake_openai)[0]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert schema["additionalProperties"] is False and schema["required"] == ["echo", "catchphrase"]


def test_strict_schema_reaches_nested_objects_and_leaves_its_input_alone() -> None:
    original = {
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/A"}},
        "$defs": {"A": {"type": "object", "properties": {"x": {"type": "integer"}}}},
    }
    strict = strict_schema(original)
    assert strict["$defs"]["A"]["additionalProperties"] is False and strict["$defs"]["A"]["required"] == ["x"]
    assert "required" not in original["$defs"]["A"]


def test_complete_uses_the_legacy_endpoint_and_refuses_chat_models(fake_openai: FakeOpenAI) -> None:
    with adapter_for(fake_openai) as openai:
        reply = openai.text.complete(
            model="gpt-3.5-turbo-instruct", prompt="Once upon a time", max_tokens=3, echo=False
        )
        stream = openai.text.stream_complete(model="davinci-002", prompt="Once upon")
        streamed = list(stream)
        with pytest.raises(InvalidArgument, match="chat model"):
            openai.text.complete(model=CHAT, prompt="x")
        with pytest.raises(InvalidArgument, match="do not take 'tools'"):
            openai.text.complete(model="davinci-002", prompt="x", tools=TOOLS)
    assert reply.text == " echo: Once upon" and reply.finish_reason == "length"
    assert reply.cost == pytest.approx((4 * 1.5 + 3 * 2.0) / 1_000_000)
    assert stream.text == " echo: Once upon" and streamed[-1].usage is not None
    assert streamed[-1].cost == pytest.approx((2 * 2.0 + 3 * 2.0) / 1_000_000)
    bodies = sent(fake_openai, "/v1/completions")
    assert len(bodies) == 2 and bodies[0]["max_tokens"] == 3
    assert bodies[1]["stream_options"] == {"include_usage": True}


def test_errors_are_mapped_with_openai_request_ids(fake_openai: FakeOpenAI) -> None:
    fake_openai.fail("/v1/chat/completions", 401)
    fake_openai.fail("/v1/chat/completions", 429, headers={"retry-after": "0"})
    with adapter_for(fake_openai) as openai:
        with pytest.raises(AuthenticationError) as caught:
            openai.text.generate(model=CHAT, messages="x")
        reply = openai.text.generate(model=CHAT, messages="retried")
    assert caught.value.request_id == next(
        r.request_id for r in fake_openai.requests if r.path == "/v1/chat/completions"
    )
    assert fake_openai.api_key not in str(caught.value)
    assert reply.text == "Echo: retried"


@pytest.mark.together_spec_exempt(reason="asks for a model the fake's catalog lacks, on purpose")
def test_legacy_model_on_chat_is_not_found(fake_openai: FakeOpenAI) -> None:
    with adapter_for(fake_openai) as openai, pytest.raises(NotFound, match="v1/completions"):
        openai.text.generate(model="davinci-002", messages="x")


def test_costs_none_when_unpriced_and_user_prices_win(fake_openai: FakeOpenAI) -> None:
    with adapter_for(fake_openai, pricing={CHAT: Pricing(input_per_mtok=1.0, output_per_mtok=1.0)}) as openai:
        priced = openai.text.generate(model=CHAT, messages="two words")
        unknown = openai.text.generate(model="my-proxy-model", messages="two words")
    assert priced.cost == pytest.approx(5 / 1_000_000)
    assert unknown.cost is None


def test_conforms_to_the_text_protocol(fake_openai: FakeOpenAI) -> None:
    with adapter_for(fake_openai) as openai:
        assert isinstance(openai.text, TextGeneration)


def _raw(fake: FakeOpenAI, path: str, body: dict[str, Any]) -> tuple[Any, httpx.Response]:
    with httpx.Client(base_url=fake.base_url, headers={"Authorization": f"Bearer {fake.api_key}"}) as client:
        response = client.post(path, json=body)
    return fake.requests[-1], response


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/chat/completions", {"model": CHAT, "messages": [{"role": "user", "content": "hi there"}], "n": 2}),
        (
            "/chat/completions",
            {"model": CHAT, "messages": [{"role": "user", "content": "weather?"}], "tools": TOOLS},
        ),
        (
            "/chat/completions",
            {
                "model": CHAT,
                "messages": [{"role": "user", "content": "hi"}],
                "stream": True,
                "stream_options": {"include_usage": True},
            },
        ),
        (
            "/chat/completions",
            {
                "model": CHAT,
                "messages": [{"role": "user", "content": "weather?"}],
                "tools": TOOLS,
                "stream": True,
            },
        ),
        ("/completions", {"model": "davinci-002", "prompt": "hello"}),
        (
            "/completions",
            {
                "model": "davinci-002",
                "prompt": "hello",
                "stream": True,
                "stream_options": {"include_usage": True},
            },
        ),
    ],
)
def test_the_fakes_answers_match_openais_spec(
    fake_openai: FakeOpenAI, path: str, body: dict[str, Any]
) -> None:
    req, response = _raw(fake_openai, path, body)
    assert response.status_code == 200
    if not body.get("stream"):
        assert OPENAI.response_problems(req, response.status_code, response.headers, response.content) == []
        return
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    # OpenAI's spec gives the chunk schema itself (spec_check's event check expects {"data": ...} wrappers, as
    # Together's spec writes them); legacy completion chunks have the shape of the whole response.
    schema = (
        "CreateChatCompletionStreamResponse" if path == "/chat/completions" else "CreateCompletionResponse"
    )
    assert _schema_problems(chunks, schema) == []
    usage_chunks = [c for c in chunks if c.get("usage")]
    if body.get("stream_options"):
        assert len(usage_chunks) == 1 and usage_chunks[0]["choices"] == [] and chunks[-1] is usage_chunks[0]
    else:
        assert usage_chunks == [] and all("usage" not in c for c in chunks)


def _schema_problems(instances: list[Any], name: str) -> list[str]:
    from openapi_schema_validator import OAS31Validator

    document = OPENAI.loaded.document
    validator = OAS31Validator({"$ref": f"#/components/schemas/{name}", "components": document["components"]})
    problems = []
    for n, item in enumerate(instances):
        for error in validator.iter_errors(item):
            # The schema's enums leave out the nulls its own prose documents: finish_reason is null until a
            # choice ends, and with include_usage every chunk but the last has "usage": null.
            if error.instance is None and list(error.absolute_path)[-1:] in (["finish_reason"], ["usage"]):
                continue
            problems.append(f"#{n} at {list(error.absolute_path)}: {error.message}")
    return problems


def test_models_list_matches_openais_spec(fake_openai: FakeOpenAI) -> None:
    fake_openai.models = default_models()
    with httpx.Client(
        base_url=fake_openai.base_url, headers={"Authorization": f"Bearer {fake_openai.api_key}"}
    ) as client:
        listed = client.get("/models")
        one = client.get("/models/gpt-4o")
        missing = client.get("/models/nope")
    requests = fake_openai.requests
    assert listed.json()["object"] == "list" and {m["id"] for m in listed.json()["data"]} >= {
        "gpt-4o",
        "whisper-1",
    }
    assert OPENAI.response_problems(requests[0], 200, listed.headers, listed.content) == []
    assert one.json() == {
        "id": "gpt-4o",
        "object": "model",
        "created": one.json()["created"],
        "owned_by": "system",
    }
    assert OPENAI.response_problems(requests[1], 200, one.headers, one.content) == []
    assert missing.status_code == 404
