"""AnthropicAdapter.text end to end against the local Anthropic fake (requests checked against the spec)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from anthropic_spec import ANTHROPIC
from polyface import AnthropicAdapter
from polyface.capabilities import TextGeneration
from polyface.errors import (
    AuthenticationError,
    CapabilityNotSupported,
    InvalidArgument,
    InvalidRequest,
    ProviderUnavailable,
)
from polyface.providers.anthropic.config import ANTHROPIC_VERSION
from polyface.testing.fake_anthropic import FakeAnthropic
from polyface.types.models import Pricing

MODEL = "claude-sonnet-4-5"  # $3 in / $15 out per 1M tokens in the shipped table
IN, OUT = 3.0 / 1_000_000, 15.0 / 1_000_000
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def adapter_for(fake: FakeAnthropic, **options: Any) -> AnthropicAdapter:
    return AnthropicAdapter(api_key=fake.api_key, base_url=fake.base_url, **options)


def message_requests(fake: FakeAnthropic) -> list[Any]:
    return [r for r in fake.requests if r.path == "/v1/messages"]


def test_generate_sends_anthropic_headers_and_reads_the_reply(fake_anthropic: FakeAnthropic) -> None:
    claude = adapter_for(fake_anthropic)
    reply = claude.text.generate(
        model=MODEL,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi like Rex"}],
    )
    assert reply.text == "Echo: Say hi like Rex"
    assert reply.finish_reason == "stop"
    assert reply.provider == "anthropic"
    (sent,) = message_requests(fake_anthropic)
    assert sent.headers["x-api-key"] == fake_anthropic.api_key
    assert sent.headers["anthropic-version"] == ANTHROPIC_VERSION
    assert "authorization" not in sent.headers
    assert sent.json["system"] == "Be brief."
    assert sent.json["messages"] == [{"role": "user", "content": "Say hi like Rex"}]
    assert sent.json["max_tokens"] == 4096
    # the fake counts words: 2 (system) + 4 (user) in, 5 out
    assert (reply.usage.input_tokens, reply.usage.output_tokens, reply.usage.total_tokens) == (6, 5, 11)
    assert reply.cost == pytest.approx(6 * IN + 5 * OUT)


def test_models_reads_every_page(fake_anthropic: FakeAnthropic) -> None:
    claude = adapter_for(fake_anthropic)
    models = claude.models()
    pages = [r for r in fake_anthropic.requests if r.path == "/v1/models"]
    assert len(pages) == 2
    assert "after_id=" in pages[1].query
    assert [m.id for m in models] == [m["id"] for m in fake_anthropic.models]
    haiku3 = next(m for m in models if m.id == "claude-3-haiku-20240307")
    assert (haiku3.max_output_tokens, haiku3.context_length, haiku3.modality) == (4096, 200_000, "text")
    assert haiku3.supports_json_schema is True


def test_max_tokens_defaults_to_the_model_limit_and_refuses_more(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.models = [
        dict(m, max_tokens=1000) if m["id"].startswith("claude-3-haiku") else m for m in fake_anthropic.models
    ]
    claude = adapter_for(fake_anthropic)
    claude.text.generate(model="claude-3-haiku", messages="hello")
    assert message_requests(fake_anthropic)[-1].json["max_tokens"] == 1000
    with pytest.raises(InvalidArgument, match="limit of 1000"):
        claude.text.generate(model="claude-3-haiku", messages="hello", max_tokens=5000)
    assert len(message_requests(fake_anthropic)) == 1


def test_max_tokens_cut_is_length_and_stop_sequence_is_stop(fake_anthropic: FakeAnthropic) -> None:
    claude = adapter_for(fake_anthropic)
    cut = claude.text.generate(model=MODEL, messages="one two three four", max_tokens=2)
    assert (cut.text, cut.finish_reason) == ("Echo: one", "length")
    stopped = claude.text.generate(model=MODEL, messages="one two three four", stop=["three"])
    assert (stopped.text, stopped.finish_reason) == ("Echo: one two ", "stop")
    assert message_requests(fake_anthropic)[-1].json["stop_sequences"] == ["three"]


def test_tool_call_round_trip(fake_anthropic: FakeAnthropic) -> None:
    claude = adapter_for(fake_anthropic)
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    reply = claude.text.generate(model=MODEL, messages=messages, tools=TOOLS)
    assert reply.finish_reason == "tool_calls"
    (call,) = reply.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    sent_tools = message_requests(fake_anthropic)[0].json["tools"]
    assert sent_tools == [{"name": "get_weather", "input_schema": TOOLS[0]["function"]["parameters"]}]
    messages += [reply.message, {"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"}]
    claude.text.generate(model=MODEL, messages=messages, tools=TOOLS, tool_choice="none")
    last = message_requests(fake_anthropic)[-1].json
    assert last["messages"][1]["content"][0]["type"] == "tool_use"
    assert last["messages"][2]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": call.id,
        "content": "18C and sunny",
    }
    assert last["tool_choice"] == {"type": "none"}


class Echo(BaseModel):
    echo: str


def test_json_schema_output_uses_output_config(fake_anthropic: FakeAnthropic) -> None:
    reply = adapter_for(fake_anthropic).text.generate(model=MODEL, messages="Rex", response_format=Echo)
    assert Echo.model_validate_json(reply.text).echo == "Rex"
    assert message_requests(fake_anthropic)[0].json["output_config"]["format"]["type"] == "json_schema"


def test_stream_yields_text_then_totals(fake_anthropic: FakeAnthropic) -> None:
    claude = adapter_for(fake_anthropic)
    stream = claude.text.stream(model=MODEL, messages="stream these four words")
    deltas = list(stream)
    assert "".join(d.text for d in deltas) == "Echo: stream these four words"
    assert len([d for d in deltas if d.text]) == 5
    final = deltas[-1]
    assert final.finish_reason == "stop"
    assert final.usage is not None and (final.usage.input_tokens, final.usage.output_tokens) == (4, 5)
    assert final.cost == pytest.approx(4 * IN + 5 * OUT)
    assert stream.text == "Echo: stream these four words" and stream.done
    assert message_requests(fake_anthropic)[0].json["stream"] is True


async def test_async_generate_and_stream(fake_anthropic: FakeAnthropic) -> None:
    async with adapter_for(fake_anthropic) as claude:
        reply = await claude.text.agenerate(model=MODEL, messages="async hello")
        assert reply.text == "Echo: async hello"
        stream = claude.text.astream(model=MODEL, messages="What is the weather?", tools=TOOLS)
        pieces = [d async for d in stream]
    calls = [c for d in pieces for c in d.tool_calls]
    assert calls[0].name == "get_weather" and calls[0].id
    assert json.loads("".join(c.arguments for c in calls)) == {"city": "Paris"}
    assert pieces[-1].finish_reason == "tool_calls"


def test_stream_error_event_raises_provider_unavailable(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.fail_stream("overloaded_error", "Overloaded", after_events=4)
    claude = adapter_for(fake_anthropic)
    got: list[str] = []
    with pytest.raises(ProviderUnavailable, match="Overloaded") as caught:
        for delta in claude.text.stream(model=MODEL, messages="one two three"):
            got.append(delta.text)
    assert caught.value.code == "overloaded_error"
    assert "".join(got) == "Echo: "  # message_start, ping, block start, first word: then the error


def test_a_stream_cut_short_is_an_error(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.drop_stream(after_chunks=6)  # after some text arrived
    stream = adapter_for(fake_anthropic).text.stream(model=MODEL, messages="one two three four five")
    with pytest.raises(ProviderUnavailable):
        list(stream)
    assert stream.text, "the text delivered before the cut is kept"


def test_a_stream_cut_before_any_text_is_retried(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.drop_stream(after_chunks=1)  # message_start only
    stream = adapter_for(fake_anthropic).text.stream(model=MODEL, messages="one two three")
    assert stream.until_done().text == "Echo: one two three"
    assert sum(r.path == "/v1/messages" for r in fake_anthropic.requests) == 2


def test_overloaded_529_is_retried(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.fail("/v1/messages", 529, times=1, headers={"retry-after": "0"})
    reply = adapter_for(fake_anthropic).text.generate(model=MODEL, messages="again")
    assert reply.text == "Echo: again"
    assert len(message_requests(fake_anthropic)) == 2


def test_overloaded_529_past_retries_is_provider_unavailable(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.fail("/v1/messages", 529, times=3, headers={"retry-after": "0", "request-id": "req_529"})
    with pytest.raises(ProviderUnavailable) as caught:
        adapter_for(fake_anthropic, max_retries=2).text.generate(model=MODEL, messages="again")
    error = caught.value
    assert (error.status, error.code, error.request_id) == (529, "overloaded_error", "req_529")
    assert len(message_requests(fake_anthropic)) == 3


def test_errors_read_anthropic_error_bodies(fake_anthropic: FakeAnthropic) -> None:
    claude = AnthropicAdapter(api_key="sk-ant-wrong", base_url=fake_anthropic.base_url)
    with pytest.raises(AuthenticationError) as caught:
        claude.text.generate(model=MODEL, messages="hi")
    assert caught.value.code == "authentication_error"
    assert "sk-ant-wrong" not in str(caught.value)
    fake_anthropic.fail(
        "/v1/messages",
        400,
        body={"type": "error", "error": {"type": "invalid_request_error", "message": "messages: bad"}},
    )
    with pytest.raises(InvalidRequest, match="messages: bad"):
        adapter_for(fake_anthropic).text.generate(model=MODEL, messages="hi")


def test_count_tokens_matches_the_usage_of_the_same_request(fake_anthropic: FakeAnthropic) -> None:
    claude = adapter_for(fake_anthropic)
    args: dict[str, Any] = {"model": MODEL, "messages": "a b c d", "system": "be short"}
    counted = claude.text.count_tokens(**args, tools=TOOLS)
    reply = claude.text.generate(**args, tools=TOOLS, tool_choice="none")
    assert counted == reply.usage.input_tokens == 7  # 4 + 2 words, and the tool's name
    sent = next(r for r in fake_anthropic.requests if r.path == "/v1/messages/count_tokens")
    assert "max_tokens" not in sent.json and sent.json["system"] == "be short"


async def test_acount_tokens(fake_anthropic: FakeAnthropic) -> None:
    async with adapter_for(fake_anthropic) as claude:
        assert await claude.text.acount_tokens(model=MODEL, messages="one two three") == 3


def test_pricing_override_wins(fake_anthropic: FakeAnthropic) -> None:
    claude = adapter_for(
        fake_anthropic, pricing={MODEL: Pricing(input_per_mtok=1_000_000, output_per_mtok=0)}
    )
    assert claude.text.generate(model=MODEL, messages="x y").cost == pytest.approx(2.0)


def test_base_url_with_v1_and_env(fake_anthropic: FakeAnthropic, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", fake_anthropic.api_key)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_anthropic.base_url + "/v1")
    claude = AnthropicAdapter()
    assert claude.config.base_url == fake_anthropic.base_url
    assert claude.text.generate(model=MODEL, messages="env").text == "Echo: env"


def test_what_anthropic_lacks_says_who_has_it() -> None:
    claude = AnthropicAdapter(api_key="sk-ant-x")
    for name in ("embeddings", "image", "audio", "video", "voice"):
        with pytest.raises(CapabilityNotSupported) as caught:
            getattr(claude, name)
        assert caught.value.offered_by, name
    for modality in ("text", "voice", "image", "audio", "video"):
        with pytest.raises(CapabilityNotSupported, match="fine-tuning") as caught:
            getattr(claude.fine_tuning, modality)
        assert "local" in caught.value.offered_by
    with pytest.raises(CapabilityNotSupported, match="legacy"):
        claude.text.complete(model=MODEL, prompt="Once upon")
    table = AnthropicAdapter.capabilities()
    assert table["text"] and not table["embeddings"] and not table["fine_tuning.text"]
    assert isinstance(claude.text, TextGeneration)


def test_bad_input_is_refused_before_sending(fake_anthropic: FakeAnthropic) -> None:
    claude = adapter_for(fake_anthropic)
    with pytest.raises(InvalidArgument, match="n"):
        claude.text.generate(model=MODEL, messages="x", n=2)
    with pytest.raises(InvalidArgument):
        claude.text.generate(model=MODEL, messages=[])
    assert fake_anthropic.requests == []


def _raw(fake: FakeAnthropic, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"x-api-key": fake.api_key, "anthropic-version": ANTHROPIC_VERSION}
    return httpx.request(method, fake.base_url + path, headers=headers, **kwargs)


def test_fake_answers_match_the_spec(fake_anthropic: FakeAnthropic) -> None:
    body = {"model": MODEL, "max_tokens": 20, "messages": [{"role": "user", "content": "weather?"}]}
    tool = {"name": "w", "input_schema": {"type": "object"}}
    answers = [
        _raw(fake_anthropic, "POST", "/v1/messages", json=body),
        _raw(fake_anthropic, "POST", "/v1/messages", json={**body, "tools": [tool]}),
        _raw(
            fake_anthropic,
            "POST",
            "/v1/messages/count_tokens",
            json={"model": MODEL, "messages": body["messages"]},
        ),
        _raw(fake_anthropic, "GET", "/v1/models", params={"limit": 2}),
    ]
    assert answers[1].json()["content"][0]["type"] == "tool_use"
    assert answers[3].json()["has_more"] is True
    for req, resp in zip(fake_anthropic.requests, answers, strict=True):
        assert ANTHROPIC.response_problems(req, resp.status_code, dict(resp.headers), resp.content) == []


@pytest.mark.together_spec_exempt(reason="sends a request without max_tokens on purpose")
def test_fake_refuses_a_request_without_max_tokens_like_anthropic(fake_anthropic: FakeAnthropic) -> None:
    resp = _raw(
        fake_anthropic,
        "POST",
        "/v1/messages",
        json={"model": MODEL, "messages": [{"role": "user", "content": "x"}]},
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "invalid_request_error"
    (req,) = fake_anthropic.requests
    assert ANTHROPIC.response_problems(req, resp.status_code, dict(resp.headers), resp.content) == []


def test_an_overloaded_error_event_before_any_text_is_retried(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.fail_stream("overloaded_error", "Overloaded", after_events=1)
    stream = adapter_for(fake_anthropic).text.stream(model=MODEL, messages="one two three")
    assert stream.until_done().text == "Echo: one two three"
    assert sum(r.path == "/v1/messages" for r in fake_anthropic.requests) == 2


def test_stream_and_astream_check_max_tokens_alike(fake_anthropic: FakeAnthropic) -> None:
    claude = adapter_for(fake_anthropic)
    lazy = claude.text.stream(model=MODEL, messages="x", max_tokens=10_000_000)
    assert fake_anthropic.requests == [], "nothing is sent before the stream is read"
    with pytest.raises(InvalidArgument, match="limit"):
        list(lazy)
