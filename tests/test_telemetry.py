"""OpenTelemetry GenAI spans and metrics, emitted once an SDK provider is installed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from polyface import TogetherAdapter, errors
from polyface.testing.fake_together import FakeTogether

CHAT = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
_exporter = InMemorySpanExporter()
_reader = InMemoryMetricReader()


@pytest.fixture(scope="module")
def otel() -> Iterator[None]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_exporter))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[_reader]))
    yield


def _metric_points(name: str) -> list[Any]:
    data = _reader.get_metrics_data()
    points: list[Any] = []
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == name:
                    points += list(metric.data.data_points)
    return points


def test_chat_span_and_metrics_follow_genai_conventions(otel: None, fake_together: FakeTogether) -> None:
    _exporter.clear()
    with TogetherAdapter(api_key=fake_together.api_key, base_url=fake_together.base_url) as together:
        reply = together.text.generate(model=CHAT, messages="span me", max_tokens=50, temperature=0.2)
        list(together.text.stream(model=CHAT, messages="stream me"))
    spans = [s for s in _exporter.get_finished_spans() if s.name.startswith("chat ")]
    assert [s.name for s in spans] == [f"chat {CHAT}", f"chat {CHAT}"]
    attrs = dict(spans[0].attributes or {})
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "together"
    assert attrs["gen_ai.request.model"] == CHAT
    assert attrs["gen_ai.request.max_tokens"] == 50 and attrs["gen_ai.request.temperature"] == 0.2
    assert attrs["gen_ai.usage.input_tokens"] == reply.usage.input_tokens
    assert attrs["gen_ai.usage.output_tokens"] == reply.usage.output_tokens
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["server.address"] == "127.0.0.1"
    assert spans[0].kind == trace.SpanKind.CLIENT
    assert dict(spans[1].attributes or {})["gen_ai.usage.output_tokens"] == reply.usage.output_tokens
    tokens = _metric_points("gen_ai.client.token.usage")
    kinds = {p.attributes["gen_ai.token.type"] for p in tokens}
    assert kinds == {"input", "output"}
    assert _metric_points("gen_ai.client.operation.duration")
    assert sum(p.value for p in _metric_points("polyface.client.cost")) > 0


def test_failed_call_span_records_the_error_without_the_key(otel: None, fake_together: FakeTogether) -> None:
    _exporter.clear()
    fake_together.fail("/v1/chat/completions", status=400, body={"error": {"message": "bad", "type": "x"}})
    with TogetherAdapter(api_key=fake_together.api_key, base_url=fake_together.base_url) as together:
        together.models()
        with pytest.raises(errors.InvalidRequest):
            together.text.generate(model=CHAT, messages="x")
    span = next(s for s in _exporter.get_finished_spans() if s.name.startswith("chat "))
    assert span.status.status_code == trace.StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == "InvalidRequest"
    assert fake_together.api_key not in str(span.to_json())


def test_a_stream_span_does_not_leak_into_the_callers_context(
    otel: None, fake_together: FakeTogether
) -> None:
    _exporter.clear()
    with TogetherAdapter(api_key=fake_together.api_key, base_url=fake_together.base_url) as together:
        seen = [
            trace.get_current_span().get_span_context().span_id
            for _ in together.text.stream(model=CHAT, messages="a b c")
        ]
    assert set(seen) == {trace.INVALID_SPAN.get_span_context().span_id}
    assert [s.name for s in _exporter.get_finished_spans()] == [f"chat {CHAT}"]
