"""One contract, every provider: the same text, streaming, tool-call and error scenarios against the fakes of
Together, OpenAI, Anthropic and a generic OpenAI-compatible server. Only the provider name changes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

import polyface
from polyface import errors
from polyface.testing.fake_together import FakeServer


@dataclass(frozen=True)
class Case:
    provider: str
    fixture: str
    model: str
    chat_path: str


CASES = [
    Case("together", "fake_together", "meta-llama/Llama-3.3-70B-Instruct-Turbo", "/v1/chat/completions"),
    Case("openai", "fake_openai", "gpt-4o-mini", "/v1/chat/completions"),
    Case("anthropic", "fake_anthropic", "claude-sonnet-4-5", "/v1/messages"),
    Case("vllm", "fake_compatible", "meta-llama/Llama-3.3-70B-Instruct-Turbo", "/v1/chat/completions"),
]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture(params=CASES, ids=[c.provider for c in CASES])
def case(request: pytest.FixtureRequest) -> tuple[Case, FakeServer, Any]:
    spec: Case = request.param
    fake: FakeServer = request.getfixturevalue(spec.fixture)
    adapter = polyface.provider(spec.provider, api_key=fake.api_key, base_url=fake.base_url, max_retries=1)
    request.addfinalizer(adapter.close)
    return spec, fake, adapter


def test_generate(case: tuple[Case, FakeServer, Any]) -> None:
    spec, _, adapter = case
    reply = adapter.text.generate(model=spec.model, messages=[{"role": "user", "content": "Family first."}])
    assert reply.text == "Echo: Family first."
    assert reply.finish_reason == "stop"
    assert reply.provider == spec.provider
    assert reply.usage.input_tokens > 0 and reply.usage.output_tokens > 0


def test_system_prompt_and_max_tokens(case: tuple[Case, FakeServer, Any]) -> None:
    spec, _, adapter = case
    reply = adapter.text.generate(
        model=spec.model, messages="one two three four", system="terse", max_tokens=2
    )
    assert reply.finish_reason == "length"
    assert reply.text == "Echo: one"


def test_stream_matches_generate(case: tuple[Case, FakeServer, Any]) -> None:
    spec, _, adapter = case
    stream = adapter.text.stream(model=spec.model, messages="tell me about loyalty")
    deltas = list(stream)
    whole = adapter.text.generate(model=spec.model, messages="tell me about loyalty")
    assert len([d for d in deltas if d.text]) >= 2
    assert stream.text == whole.text
    assert deltas[-1].finish_reason == "stop" and deltas[-1].usage is not None
    assert deltas[-1].usage.output_tokens == whole.usage.output_tokens


def test_tool_call(case: tuple[Case, FakeServer, Any]) -> None:
    spec, _, adapter = case
    reply = adapter.text.generate(model=spec.model, messages="what is the weather", tools=[WEATHER_TOOL])
    assert reply.finish_reason == "tool_calls"
    (call,) = reply.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    # the answer goes back in the same shape for every provider
    follow = adapter.text.generate(
        model=spec.model,
        messages=[
            {"role": "user", "content": "what is the weather"},
            reply.message,
            {"role": "tool", "tool_call_id": call.id, "content": '{"temp": 21}'},
            {"role": "user", "content": "thanks"},
        ],
        tools=[WEATHER_TOOL],
    )
    assert follow.text == "Echo: thanks"


async def test_async_generate_and_stream(case: tuple[Case, FakeServer, Any]) -> None:
    spec, _, adapter = case
    reply = await adapter.text.agenerate(model=spec.model, messages="async")
    parts = [d.text async for d in adapter.text.astream(model=spec.model, messages="async")]
    assert reply.text == "".join(parts) == "Echo: async"
    await adapter.aclose()


def test_rate_limit_is_retried(case: tuple[Case, FakeServer, Any]) -> None:
    spec, fake, adapter = case
    fake.fail(spec.chat_path, status=429, times=1, headers={"retry-after": "0.05"})
    assert adapter.text.generate(model=spec.model, messages="again").text == "Echo: again"
    assert sum(r.path == spec.chat_path for r in fake.requests) == 2


@pytest.mark.parametrize(
    ("status", "cls"),
    [(400, errors.InvalidRequest), (401, errors.AuthenticationError), (404, errors.NotFound)],
)
def test_errors_map_to_the_same_classes(
    case: tuple[Case, FakeServer, Any], status: int, cls: type[errors.ProviderError]
) -> None:
    spec, fake, adapter = case
    fake.fail(spec.chat_path, status=status)
    with pytest.raises(cls) as info:
        adapter.text.generate(model=spec.model, messages="x")
    assert info.value.status == status and info.value.request_id


def test_overload_is_retried_then_reported(case: tuple[Case, FakeServer, Any]) -> None:
    spec, fake, adapter = case
    fake.fail(spec.chat_path, status=529, times=2, headers={"retry-after": "0.01"})
    with pytest.raises(errors.ProviderUnavailable):
        adapter.text.generate(model=spec.model, messages="x")
    assert sum(r.path == spec.chat_path for r in fake.requests) == 2
