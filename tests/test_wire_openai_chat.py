"""OpenAI-style chat translation, offline: arguments -> body, response dicts -> polyface types."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from polyface.errors import InvalidArgument
from polyface.types.text import Message
from polyface.wire import openai_chat as wire
from polyface.wire.sse import iter_events


def test_message_forms_and_system_prompt() -> None:
    out = wire.message_dicts(
        ["hi", Message(role="assistant", content="hello"), {"role": "user", "content": "again"}],
        system="be brief",
    )
    assert out == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "again"},
    ]
    assert wire.message_dicts("solo") == [{"role": "user", "content": "solo"}]


@pytest.mark.parametrize(
    ("messages", "fragment"),
    [
        ([], "messages is empty"),
        ([{"role": "robot", "content": "x"}], "messages[0] has role 'robot'"),
        ([{"role": "user"}], "has no 'content'"),
        ([42], "messages[0] is a int"),
    ],
)
def test_bad_messages_get_clear_errors(messages: list[object], fragment: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        wire.message_dicts(messages)  # type: ignore[arg-type]
    assert fragment in str(info.value)


def test_options_are_checked_and_translated() -> None:
    class Answer(BaseModel):
        city: str

    body = wire.build_options(
        {"max_tokens": 5, "stop": "END", "top_k": 3, "temperature": None, "response_format": Answer},
        provider="Together AI",
        extra_allowed={"top_k"},
    )
    assert body["stop"] == ["END"]
    assert body["top_k"] == 3
    assert "temperature" not in body
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["properties"]["city"]["type"] == "string"
    with pytest.raises(InvalidArgument, match=r"does not take .max_tokenz.*extra_body"):
        wire.build_options({"max_tokenz": 5}, provider="Together AI")
    assert wire.build_options({"extra_body": {"anything": 1}}, provider="x") == {"anything": 1}


def test_parse_response_with_tool_calls_and_finish_reasons() -> None:
    data = {
        "id": "r1",
        "model": "m",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "weather", "arguments": '{"a":1}'},
                        }
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
    }
    reply = wire.parse_chat_response(data, provider="together", model="m")
    assert reply.text == ""
    assert reply.finish_reason == "tool_calls"
    assert reply.tool_calls[0].function.name == "weather"
    assert reply.usage.input_tokens == 7 and reply.usage.output_tokens == 3 and reply.usage.total_tokens == 10
    assert reply.message.tool_calls is not None
    assert wire.finish_reason("eos") == "stop"
    assert wire.finish_reason("weird") == "other"


def test_stream_assembler_gathers_final_usage() -> None:
    asm = wire.StreamAssembler("m")
    lines = [
        'data: {"id":"a","model":"m","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}',
        "",
        ": keep-alive comment",
        'data: {"id":"a","model":"m","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"eos"}]}',
        "",
        'data: {"id":"a","model":"m","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":2}}',
        "",
        "data: [DONE]",
        "",
    ]
    import json

    deltas = []
    for event in iter_events(lines):
        if event.data == "[DONE]":
            break
        d = asm.feed(json.loads(event.data))
        if d is not None:
            deltas.append(d.text)
    final = asm.final(0.5)
    assert deltas == ["Hel", "lo"]
    assert asm.text == "Hello"
    assert final.finish_reason == "stop"
    assert final.usage is not None and final.usage.total_tokens == 4
    assert final.cost == 0.5
    with pytest.raises(wire.StreamError, match="overloaded"):
        asm.feed({"error": {"message": "overloaded"}})


def test_sse_multiline_data_and_missing_trailing_blank_line() -> None:
    events = list(iter_events(["event: x", "data: a", "data: b", "", "data: tail"]))
    assert [(e.event, e.data) for e in events] == [("x", "a\nb"), ("message", "tail")]
