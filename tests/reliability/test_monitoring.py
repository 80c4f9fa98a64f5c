"""Every provider call emits an OpenTelemetry GenAI span and metrics; the server's ``/metrics`` counts
requests, errors, tokens and cost exactly.

The calls are generated from the capability catalog (``Adapter.capabilities()`` of each adapter class and
``CAPABILITY_PROTOCOLS``): every offered capability of Together, OpenAI, Anthropic and an OpenAI-compatible
server (vLLM) is called, each GenAI method of its Protocol, sync and async, against the fakes; ``local``
for its cheap capabilities (embeddings, speech). A capability added to an adapter without a call here
fails :func:`test_every_offered_capability_has_a_call`.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import math
import struct
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import polyface
from polyface.capabilities import CAPABILITIES, CAPABILITY_ATTRIBUTES, CAPABILITY_PROTOCOLS
from polyface.errors import CapabilityNotSupported
from polyface.testing.fake_together import FakeServer

pytestmark = pytest.mark.reliability

VENDORS = ("together", "openai", "anthropic", "compatible")
NOT_CALLS = frozenset({"get", "aget", "list", "alist", "cancel", "acancel", "match"})
"""Protocol methods that are not GenAI operations: re-attaching to a job, listing, cancelling, matching
voices (catalog lookups; a provider call they make, such as speech for a voice profile, is spanned there)."""
NO_OPERATION = {"voice": "a catalog of voices and matching against it: no GenAI operation"}
LOCAL_CHEAP = ("embeddings", "audio.speech")
"""The local provider's capabilities called here (the others load models for minutes; their spans are
emitted by the same ``telemetry.call`` and checked by their own tests' runtime)."""

MODELS: dict[str, dict[str, str]] = {
    "together": {
        "text": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "embeddings": "BAAI/bge-base-en-v1.5",
        "rerank": "Salesforce/Llama-Rank-V1",
        "image": "black-forest-labs/FLUX.1-schnell",
        "audio.speech": "hexgrad/Kokoro-82M",
        "audio.transcription": "openai/whisper-large-v3",
        "video": "google/veo-3.0",
        "fine_tuning.text": "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
    },
    "openai": {
        "text": "gpt-4o-mini",
        "complete": "gpt-3.5-turbo-instruct",
        "embeddings": "text-embedding-3-small",
        "image": "gpt-image-1",
        "audio.speech": "tts-1",
        "audio.transcription": "whisper-1",
        "fine_tuning.text": "gpt-4o-mini-2024-07-18",
        "fine_tuning.voice": "gpt-4o-mini-tts",
    },
    "anthropic": {"text": "claude-sonnet-4-5"},
    "compatible": {
        "text": "gpt-4o-mini",
        "complete": "gpt-3.5-turbo-instruct",
        "embeddings": "text-embedding-3-small",
    },
    "local": {"embeddings": "all-minilm-l6-v2", "rerank": "all-minilm-l6-v2", "audio.speech": "espeak-ng"},
}
FAKES = {"compatible": "fake_openai"}
"""The fake each vendor talks to: the OpenAI fake plays the OpenAI-compatible server (it serves
embeddings too; the generic fake serves chat only)."""
VOICES = {"together": "af_bella", "openai": "alloy", "local": "en-us"}
OPERATIONS = {
    "generate": None,  # by capability below
    "complete": "text_completion",
    "embed": "embeddings",
    "rerank": "rerank",
    "speak": "text_to_speech",
    "transcribe": "transcription",
    "translate": "translate",
    "train": "fine_tune",
}
GENERATE = {"text": "chat", "image": "generate_content", "video": "generate_video"}
DIALOGUE = [
    {
        "messages": [
            {"role": "user", "content": f"question {i}"},
            {"role": "assistant", "content": f"answer {i}"},
        ]
    }
    for i in range(12)
]

_exporter = InMemorySpanExporter()
_reader = InMemoryMetricReader()


@pytest.fixture(scope="module", autouse=True)
def otel() -> Iterator[None]:
    """In-memory span exporter and metric reader, as the providers polyface finds (the global ones can be
    set once per process; other modules may set theirs)."""
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(_exporter))
    meter_provider = MeterProvider(metric_readers=[_reader])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trace, "get_tracer_provider", lambda: tracer_provider)
        patch.setattr(metrics, "get_meter_provider", lambda: meter_provider)
        yield
    meter_provider.shutdown()


def _points(name: str) -> list[Any]:
    data = _reader.get_metrics_data()
    out: list[Any] = []
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == name:
                    out += list(metric.data.data_points)
    return out


def _wav(seconds: float = 1.0, rate: int = 16_000) -> bytes:
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 220 * i / rate)))
        for i in range(int(seconds * rate))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


def _adapter(vendor: str, fake: FakeServer | None, tmp_path: Path, **options: Any) -> Any:
    if vendor == "local":
        return polyface.LocalAdapter(data_dir=tmp_path / "local-data")
    assert fake is not None
    name = "vllm" if vendor == "compatible" else vendor
    return polyface.provider(name, base_url=fake.base_url, api_key=fake.api_key, **options)


def _offered(vendor: str) -> list[str]:
    from polyface.providers.openai_compatible import SERVERS, compatible_adapter
    from polyface.providers.registry import adapter_class

    cls = compatible_adapter(SERVERS["vllm"]) if vendor == "compatible" else adapter_class(vendor)
    table = cls.capabilities()
    out = []
    for capability in CAPABILITIES:
        attribute = CAPABILITY_ATTRIBUTES[capability]
        if table.get(attribute) and capability not in NO_OPERATION:
            out.append(capability)
    return out if vendor != "local" else [c for c in out if c in LOCAL_CHEAP]


def _methods(capability: str) -> list[str]:
    protocol = CAPABILITY_PROTOCOLS[capability]  # type: ignore[index]
    return [
        name
        for name, _ in inspect.getmembers(protocol, inspect.isfunction)
        if not name.startswith("_") and name not in NOT_CALLS
    ]


def _operation(capability: str, method: str) -> str:
    base = method[1:] if method.startswith("a") and method[1:] in OPERATIONS | {"stream": None} else method
    if base in ("generate", "stream"):
        return GENERATE.get(capability, "text_to_speech" if capability == "audio.speech" else "chat")
    return OPERATIONS[base]  # type: ignore[return-value]


def _arguments(vendor: str, capability: str, method: str, tmp_path: Path) -> dict[str, Any]:
    special = next((m for m in ("rerank", "complete") if m in method and m in MODELS[vendor]), None)
    model = MODELS[vendor].get(special or capability, "")
    if capability == "text":
        return (
            {"model": model, "prompt": "Once upon"}
            if "complete" in method
            else {"model": model, "messages": "hi"}
        )
    if capability == "embeddings":
        if "rerank" in method:
            return {"model": model, "query": "family", "documents": ["family first", "tax law"]}
        return {"model": model, "inputs": ["hello", "world"]}
    if capability in ("image", "video"):
        return {"model": model, "prompt": "a lighthouse at dusk"}
    if capability == "audio.speech":
        return {"model": model, "text": "Hello there.", "voice": VOICES[vendor]}
    if capability == "audio.transcription":
        return {"audio": _wav(), "model": model}
    if capability == "fine_tuning.text":
        return {"dataset": DIALOGUE, "base_model": model}
    if capability == "fine_tuning.voice":
        sample, consent = tmp_path / "sample.wav", tmp_path / "consent.wav"
        sample.write_bytes(_wav(3.0))
        consent.write_bytes(_wav(2.0, rate=22_050))
        return {"samples": [sample], "consent": consent, "name": f"voice-{method}"}
    raise AssertionError(f"no arguments for {capability}")


def _call(target: Any, method: str, arguments: dict[str, Any]) -> None:
    fn: Callable[..., Any] = getattr(target, method)
    args = [arguments.pop("audio")] if "audio" in arguments else []
    if method in ("stream", "astream"):
        result = fn(*args, **arguments)
        if hasattr(result, "__aiter__"):

            async def drain() -> None:
                async for _ in result:
                    pass

            asyncio.run(drain())
        else:
            for _ in result:
                pass
        return
    result = fn(*args, **arguments)
    if inspect.iscoroutine(result):
        asyncio.run(result)


def _target(adapter: Any, capability: str) -> Any:
    target = adapter
    for part in CAPABILITY_ATTRIBUTES[capability].split("."):  # type: ignore[index]
        target = getattr(target, part)
    return target


def test_every_offered_capability_has_a_call() -> None:
    """The table of models covers every capability every adapter offers (so a new one is not skipped)."""
    for vendor in (*VENDORS, "local"):
        offered = _offered(vendor)
        assert offered, vendor
        missing = [c for c in offered if c not in MODELS[vendor]]
        assert not missing, f"{vendor} offers {missing}: add a model for it to MODELS"
    assert set(_offered("together")) >= {"text", "embeddings", "image", "audio.speech", "video"}


@pytest.mark.parametrize("vendor", [*VENDORS, "local"])
def test_every_provider_call_emits_a_genai_span_and_metrics(
    vendor: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    fake: FakeServer | None = (
        None if vendor == "local" else request.getfixturevalue(FAKES.get(vendor, f"fake_{vendor}"))
    )
    _exporter.clear()
    adapter = _adapter(vendor, fake, tmp_path, max_retries=0) if fake else _adapter(vendor, None, tmp_path)
    expected: list[tuple[str, str, str, str]] = []  # (capability, method, operation, model)
    unsupported: list[str] = []
    with adapter:
        for capability in _offered(vendor):
            target = _target(adapter, capability)
            for method in _methods(capability):
                arguments = _arguments(vendor, capability, method, tmp_path)
                model = arguments.get("model") or arguments.get("base_model") or MODELS[vendor][capability]
                try:
                    _call(target, method, dict(arguments))
                except CapabilityNotSupported:
                    unsupported.append(f"{capability}.{method}")  # refused before any provider call
                    continue
                expected.append((capability, method, _operation(capability, method), model))
    spans = list(_exporter.get_finished_spans())
    provider_name = adapter.config.info.name
    for capability, method, operation, model in expected:
        found = _span(spans, operation, model)
        assert found is not None, (
            f"{vendor} {capability}.{method} emitted no '{operation} {model}' span; spans: "
            f"{[s.name for s in spans]}"
        )
        spans.remove(found)
        attrs = dict(found.attributes or {})
        assert attrs["gen_ai.operation.name"] == operation
        assert attrs["gen_ai.provider.name"] == provider_name
        assert attrs["gen_ai.request.model"] == model
        assert found.kind == trace.SpanKind.CLIENT and found.status.is_ok
        if operation in ("chat", "text_completion"):
            assert attrs["gen_ai.usage.input_tokens"] > 0 and attrs["gen_ai.usage.output_tokens"] > 0, attrs
        if operation == "embeddings":
            assert attrs["gen_ai.usage.input_tokens"] > 0, attrs
    assert (
        len(expected) >= {"together": 20, "openai": 16, "anthropic": 4, "compatible": 8, "local": 8}[vendor]
    ), (
        expected,
        unsupported,
    )
    durations = {
        (p.attributes["gen_ai.operation.name"], p.attributes["gen_ai.provider.name"]): p.count
        for p in _points("gen_ai.client.operation.duration")
    }
    for operation in {e[2] for e in expected}:
        assert durations.get((operation, provider_name), 0) >= 1, (operation, durations)
    tokens = {
        (p.attributes["gen_ai.operation.name"], p.attributes["gen_ai.token.type"])
        for p in _points("gen_ai.client.token.usage")
        if p.attributes["gen_ai.provider.name"] == provider_name
    }
    if any(e[2] == "chat" for e in expected):
        assert {("chat", "input"), ("chat", "output")} <= tokens


def _span(spans: list[ReadableSpan], operation: str, model: str) -> ReadableSpan | None:
    return next(
        (
            s
            for s in spans
            if (s.attributes or {}).get("gen_ai.operation.name") == operation
            and (s.attributes or {}).get("gen_ai.request.model") == model
        ),
        None,
    )


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.together_spec_exempt(reason="the fault answers before any work")
def test_a_failed_call_has_an_error_span_and_metric(
    vendor: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    fake: FakeServer = request.getfixturevalue(FAKES.get(vendor, f"fake_{vendor}"))
    _exporter.clear()
    model = MODELS[vendor]["text"]
    fake.fail("*", status=500, times=3)  # the catalog (for the cost) may be asked first
    with (
        _adapter(vendor, fake, tmp_path, max_retries=0) as adapter,
        pytest.raises(polyface.errors.ServerError),
    ):
        adapter.text.generate(model=model, messages="hi")
    span = _span(list(_exporter.get_finished_spans()), "chat", model)
    assert span is not None
    assert span.status.status_code == trace.StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == "ServerError"
    failed = [
        p
        for p in _points("gen_ai.client.operation.duration")
        if p.attributes.get("error.type") == "ServerError"
        and p.attributes["gen_ai.provider.name"] == adapter.config.info.name
    ]
    assert failed and failed[0].count >= 1


# ---- the server's /metrics ------------------------------------------------------------------------------


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.together_spec_exempt(reason="the fault answers before any work")
def test_metrics_count_gateway_requests_errors_tokens_and_cost_exactly(
    fake_together: FakeServer, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from polyface.persona.studio import Studio
    from polyface.server.app import create_app
    from polyface.server.auth import create_key

    chat_model = MODELS["together"]["text"]
    model = f"together/{chat_model}"
    together = polyface.TogetherAdapter(
        api_key=fake_together.api_key, base_url=fake_together.base_url, max_retries=0
    )
    with Studio(
        f"sqlite:///{tmp_path / 'm.db'}", data_dir=tmp_path / "m", providers={"together": together}
    ) as studio:
        _, key = create_key(studio, "metrics")
        client = TestClient(create_app(studio), raise_server_exceptions=False)
        auth = {"Authorization": f"Bearer {key}"}
        usage = {"input": 0.0, "output": 0.0, "cost": 0.0}
        for words in ("hello there", "one two three four", "a b"):
            body = {"model": model, "messages": [{"role": "user", "content": words}]}
            answer = client.post("/v1/chat/completions", json=body, headers=auth)
            assert answer.status_code == 200, answer.text
            usage["input"] += answer.json()["usage"]["prompt_tokens"]
            usage["output"] += answer.json()["usage"]["completion_tokens"]
            usage["cost"] += float(answer.headers["x-polyface-cost-usd"])
        fake_together.fail("/v1/chat/completions", status=500)
        failed = client.post(
            "/v1/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": "x"}]},
            headers=auth,
        )
        assert failed.status_code >= 500
        refused = client.post("/v1/chat/completions", json={"model": model, "messages": []})  # no key: 401
        assert refused.status_code == 401
        samples = _samples(client.get("/metrics").text)

    def value(name: str, **labels: str) -> float:
        return samples.get((name, frozenset(labels.items())), 0.0)

    route = "/v1/chat/completions"
    assert value("polyface_http_requests_total", route=route, method="POST", status="200") == 3
    assert (
        value("polyface_http_requests_total", route=route, method="POST", status=str(failed.status_code)) == 1
    )
    assert value("polyface_http_requests_total", route=route, method="POST", status="401") == 1
    assert value("polyface_http_errors_total", route=route, status=str(failed.status_code)) == 1
    assert value("polyface_http_errors_total", route=route, status="401") == 1
    assert value("polyface_http_request_seconds_count", route=route, method="POST") == 5
    assert usage["input"] > 0 and usage["output"] > 0 and usage["cost"] > 0
    assert value("polyface_gateway_tokens_total", model=model, kind="input") == usage["input"]
    assert value("polyface_gateway_tokens_total", model=model, kind="output") == usage["output"]
    assert value("polyface_gateway_cost_usd_total", model=model) == pytest.approx(usage["cost"], rel=1e-6)
