"""Pure translation tests for Anthropic's Messages wire format (no network): polyface in, Anthropic out."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from anthropic_spec import ANTHROPIC
from polyface.errors import InvalidArgument
from polyface.testing.fake_together import RecordedRequest
from polyface.types.models import Pricing
from polyface.types.text import FunctionCall, Message, ToolCall
from polyface.types.usage import Usage
from polyface.wire import anthropic_messages as wire

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


def build(messages: Any, system: Any = None, **options: Any) -> dict[str, Any]:
    return wire.build_request(model="claude-sonnet-4-5", messages=messages, system=system, options=options)


def spec_problems(body: dict[str, Any], path: str = "/v1/messages") -> list[str]:
    raw = json.dumps(body).encode()
    headers = {"content-type": "application/json", "x-api-key": "k", "anthropic-version": "2023-06-01"}
    return ANTHROPIC.request_problems(RecordedRequest("POST", path, "", headers, raw, body, 0.0))


def test_system_prompts_are_lifted_and_joined_in_order() -> None:
    body = build(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in English."}]},
            {"role": "user", "content": "Hi"},
        ],
        system="You are Rex.",
    )
    assert body["system"] == "You are Rex.\n\nBe brief.\n\nAnswer in English."
    assert body["messages"] == [{"role": "user", "content": "Hi"}]
    assert body["max_tokens"] == wire.DEFAULT_MAX_TOKENS
    assert spec_problems(body) == []


def test_a_tool_round_trip_becomes_tool_use_and_merged_tool_result_blocks() -> None:
    call = ToolCall(id="call.1", function=FunctionCall(name="get_weather", arguments='{"city": "Paris"}'))
    body = build(
        [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            Message(role="assistant", content="Checking.", tool_calls=[call]),
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "call_2", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}}
                ],
            },
            {"role": "tool", "tool_call_id": "call.1", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "21C"}]},
            {"role": "user", "content": "Thanks, which is warmer?"},
        ],
        tools=TOOLS,
    )
    user, assistant, results = body["messages"]
    assert user == {"role": "user", "content": "Weather in Paris and Rome?"}
    assert assistant["content"] == [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Rome"}},
    ]
    assert results["role"] == "user"
    assert results["content"] == [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
        {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "21C"}]},
        {"type": "text", "text": "Thanks, which is warmer?"},
    ]
    assert body["tools"] == [
        {
            "name": "get_weather",
            "input_schema": TOOLS[0]["function"]["parameters"],
            "description": "The weather in a city",
        }
    ]
    assert spec_problems(body) == []


def test_images_become_base64_or_url_sources() -> None:
    body = build(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Compare"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                ],
            }
        ]
    )
    blocks = body["messages"][0]["content"]
    assert blocks[1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
    }
    assert blocks[2] == {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}
    assert spec_problems(body) == []
    with pytest.raises(InvalidArgument, match="image/bmp"):
        build(
            [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "data:image/bmp;base64,AA=="}}],
                }
            ]
        )


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("required", {"type": "any"}),
        ("none", {"type": "none"}),
        ({"type": "function", "function": {"name": "get_weather"}}, {"type": "tool", "name": "get_weather"}),
    ],
)
def test_tool_choice_translates(choice: Any, expected: dict[str, Any]) -> None:
    body = build("weather?", tools=TOOLS, tool_choice=choice)
    assert body["tool_choice"] == expected
    assert spec_problems(body) == []


def test_parallel_tool_calls_false_disables_parallel_tool_use() -> None:
    body = build("weather?", tools=TOOLS, tool_choice="required", parallel_tool_calls=False)
    assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert build("weather?", tools=TOOLS, parallel_tool_calls=False)["tool_choice"] == {
        "type": "auto",
        "disable_parallel_tool_use": True,
    }


class City(BaseModel):
    name: str
    country: str


def test_response_format_becomes_a_strict_output_config_schema() -> None:
    body = build("a city", response_format=City)
    schema = body["output_config"]["format"]["schema"]
    assert body["output_config"]["format"]["type"] == "json_schema"
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"name", "country"}
    spec = {
        "type": "json_schema",
        "json_schema": {"name": "x", "schema": {"type": "object", "additionalProperties": True}},
    }
    assert (
        build("x", response_format=spec)["output_config"]["format"]["schema"]["additionalProperties"] is True
    )
    assert spec_problems(body) == []
    with pytest.raises(InvalidArgument, match="no schema-less JSON mode"):
        build("x", response_format={"type": "json_object"})


def test_options_are_translated_and_unknown_ones_refused() -> None:
    body = build(
        "x", stop="END", user="u-1", metadata={"user_id": "u-2"}, temperature=0.5, top_k=5, max_tokens=10
    )
    assert body["stop_sequences"] == ["END"]
    assert body["metadata"] == {"user_id": "u-1"}
    assert (body["temperature"], body["top_k"], body["max_tokens"]) == (0.5, 5, 10)
    assert spec_problems(body) == []
    for name, value in [("n", 2), ("seed", 1), ("presence_penalty", 0.1)]:
        with pytest.raises(InvalidArgument, match=repr(name)):
            build("x", **{name: value})
    with pytest.raises(InvalidArgument, match="extra_body"):
        build("x", bogus=1)
    with pytest.raises(InvalidArgument, match="from 0 to 1"):
        build("x", temperature=1.5)
    assert build("x", extra_body={"service_tier": "auto"})["service_tier"] == "auto"


def test_max_tokens_default_follows_the_model_limit() -> None:
    small = wire.build_request(model="m", messages="x", options={}, max_output_tokens=1000)
    assert small["max_tokens"] == 1000
    with pytest.raises(InvalidArgument, match="limit of 1000"):
        wire.build_request(model="m", messages="x", options={"max_tokens": 2000}, max_output_tokens=1000)


@pytest.mark.parametrize(
    "messages",
    [[], [{"role": "system", "content": "only a system prompt"}], [{"role": "function", "content": "x"}]],
)
def test_bad_messages_are_refused(messages: Any) -> None:
    with pytest.raises(InvalidArgument):
        build(messages)


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "other"),
    ],
)
def test_stop_reasons_map_to_finish_reasons(stop_reason: str, finish: str) -> None:
    reply = wire.parse_message(
        {"id": "m", "content": [{"type": "text", "text": "x"}], "stop_reason": stop_reason, "usage": {}},
        provider="anthropic",
        model="claude",
    )
    assert reply.finish_reason == finish


def test_parse_message_reads_text_tool_use_and_cache_usage() -> None:
    data = {
        "id": "msg_1",
        "model": "claude-sonnet-4-5-20250929",
        "content": [
            {"type": "text", "text": "Let me check. "},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
        ],
        "stop_reason": "tool_use",
        "usage": {
            "input_tokens": 100,
            "output_tokens": 50,
            "cache_read_input_tokens": 1000,
            "cache_creation_input_tokens": 200,
            "cache_creation": {"ephemeral_5m_input_tokens": 150, "ephemeral_1h_input_tokens": 50},
        },
    }
    reply = wire.parse_message(data, provider="anthropic", model="claude-sonnet-4-5")
    assert reply.text == "Let me check. "
    assert reply.model == "claude-sonnet-4-5-20250929"
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in reply.tool_calls] == [
        ("toolu_1", "get_weather", {"city": "Paris"})
    ]
    usage = reply.usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (1300, 50, 1350)
    assert usage.details["uncached_input_tokens"] == 100
    assert usage.details["cache_read_input_tokens"] == 1000
    price = Pricing(input_per_mtok=3.0, output_per_mtok=15.0)
    expected = (100 * 3 + 1000 * 0.3 + 150 * 3.75 + 50 * 6 + 50 * 15) / 1_000_000
    assert wire.message_cost(price, usage) == pytest.approx(expected)
    assert wire.message_cost(price, usage, batch=True) == pytest.approx(expected / 2)
    assert wire.message_cost(None, usage) is None


def test_cost_without_cache_is_plain_token_pricing() -> None:
    usage = wire.parse_usage({"input_tokens": 1000, "output_tokens": 200})
    assert usage.details == {}
    price = Pricing(input_per_mtok=1.0, output_per_mtok=5.0)
    assert wire.message_cost(price, usage) == pytest.approx(
        price.cost(Usage(input_tokens=1000, output_tokens=200))
    )


def events_for_tool_and_text() -> list[dict[str, Any]]:
    return [
        {
            "type": "message_start",
            "message": {"id": "msg_1", "model": "claude-x", "usage": {"input_tokens": 7, "output_tokens": 1}},
        },
        {"type": "ping"},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "toolu_9", "name": "f", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"a":'},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": " 1}"},
        },
        {"type": "content_block_stop", "index": 1},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 12}},
        {"type": "message_stop"},
    ]


def test_stream_state_passes_text_and_tool_deltas_and_totals_at_the_end() -> None:
    state = wire.StreamState("claude")
    deltas = [d for d in (state.feed(e) for e in events_for_tool_and_text()) if d is not None]
    assert "".join(d.text for d in deltas) == "Hello"
    pieces = [c for d in deltas for c in d.tool_calls]
    assert pieces[0].id == "toolu_9" and pieces[0].name == "f" and pieces[0].index == 0
    assert json.loads("".join(c.arguments for c in pieces)) == {"a": 1}
    assert state.stopped
    final = state.final(0.5)
    assert final.usage is not None
    assert (final.finish_reason, final.usage.input_tokens, final.usage.output_tokens, final.cost) == (
        "tool_calls",
        7,
        12,
        0.5,
    )
    assert final.id == "msg_1" and final.model == "claude-x"


def test_stream_error_event_raises_with_its_type() -> None:
    state = wire.StreamState("claude")
    with pytest.raises(wire.StreamError) as caught:
        state.feed({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    assert (caught.value.kind, caught.value.message) == ("overloaded_error", "Overloaded")


def test_batch_requests_translate_and_check_custom_ids() -> None:
    def builder(**kw: Any) -> dict[str, Any]:
        return wire.build_request(**kw)

    out = wire.batch_requests(
        [
            {
                "custom_id": "a-1",
                "model": "claude-haiku-4-5",
                "messages": "hi",
                "system": "brief",
                "max_tokens": 5,
            },
            {
                "custom_id": "b_2",
                "params": {"model": "m", "max_tokens": 3, "messages": [{"role": "user", "content": "x"}]},
            },
        ],
        builder,
    )
    assert out[0] == {
        "custom_id": "a-1",
        "params": {
            "model": "claude-haiku-4-5",
            "messages": [{"role": "user", "content": "hi"}],
            "system": "brief",
            "max_tokens": 5,
        },
    }
    assert out[1]["params"]["max_tokens"] == 3
    assert spec_problems({"requests": out}, "/v1/messages/batches") == []
    with pytest.raises(InvalidArgument, match="used twice"):
        wire.batch_requests([{"custom_id": "a", "model": "m", "messages": "x"}] * 2, builder)
    with pytest.raises(InvalidArgument, match="custom_id"):
        wire.batch_requests([{"custom_id": "has space", "model": "m", "messages": "x"}], builder)


def test_parse_batch_result_kinds() -> None:
    ok = wire.parse_batch_result(
        {
            "custom_id": "a",
            "result": {
                "type": "succeeded",
                "message": {
                    "id": "m",
                    "model": "claude",
                    "content": [{"type": "text", "text": "hi"}],
                    "stop_reason": "end_turn",
                    "usage": {"input_tokens": 1, "output_tokens": 1},
                },
            },
        },
        provider="anthropic",
    )
    assert ok.ok and ok.response is not None and ok.response.text == "hi"
    bad = wire.parse_batch_result(
        {
            "custom_id": "b",
            "result": {
                "type": "errored",
                "error": {"type": "error", "error": {"type": "invalid_request_error", "message": "no"}},
            },
        },
        provider="anthropic",
    )
    assert (bad.ok, bad.error, bad.error_type) == (False, "no", "invalid_request_error")


def test_parallel_tool_calls_does_not_depend_on_keyword_order() -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    one = build("hi", tools=[tool], tool_choice="required", parallel_tool_calls=False)
    two = build("hi", parallel_tool_calls=False, tools=[tool], tool_choice="required")
    assert one["tool_choice"] == two["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert "tool_choice" not in build("hi", parallel_tool_calls=False), "no tools, no tool_choice"


def test_a_replayed_tool_call_needs_its_id_and_results_come_first() -> None:
    call = {"type": "function", "function": {"name": "f", "arguments": "{}"}}
    with pytest.raises(InvalidArgument, match="has no id"):
        build([{"role": "user", "content": "a"}, {"role": "assistant", "tool_calls": [call]}])
    _, turns = wire.to_anthropic(
        [
            {"role": "user", "content": "a"},
            {"role": "assistant", "tool_calls": [{**call, "id": "c1"}]},
            {"role": "tool", "tool_call_id": "c1", "content": "r"},
            {"role": "user", "content": "thanks"},
        ]
    )
    assert [b["type"] for b in turns[-1]["content"]] == ["tool_result", "text"]
