"""Logging with secrets redacted, and OpenTelemetry GenAI spans and metrics.

Spans and metrics follow the OpenTelemetry GenAI semantic conventions
(``gen_ai.operation.name``, ``gen_ai.request.model``, ``gen_ai.usage.input_tokens``,
``gen_ai.client.token.usage``, ``gen_ai.client.operation.duration``). They cost nothing
unless the application has imported OpenTelemetry and installed an SDK tracer or meter
provider: until then polyface never imports ``opentelemetry`` at all.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from polyface.providers._base.secrets import redact


class RedactingFilter(logging.Filter):
    """Replaces every known secret in a record's message and arguments with ``***``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        record.msg = redact(str(record.msg))
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


_FILTER = RedactingFilter()


def get_logger(name: str) -> logging.Logger:
    """A ``polyface.*`` logger whose records are redacted before any handler sees them."""
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


def _otel_tracer() -> Any:
    """The GenAI tracer, or None when no OpenTelemetry SDK provider is installed."""
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return None
    provider = trace.get_tracer_provider()
    if type(provider).__name__ in ("ProxyTracerProvider", "NoOpTracerProvider"):
        return None
    return provider.get_tracer("polyface")


class _Metrics:
    def __init__(self, meter: Any) -> None:
        self.tokens = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}", description="Tokens used per call"
        )
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="Duration of each GenAI call"
        )
        self.cost = meter.create_counter("polyface.client.cost", unit="USD", description="Cost of calls")


_metrics_cache: dict[int, _Metrics] = {}


def _otel_metrics() -> _Metrics | None:
    metrics = sys.modules.get("opentelemetry.metrics")
    if metrics is None:
        return None
    provider = metrics.get_meter_provider()
    if type(provider).__name__ in ("_ProxyMeterProvider", "NoOpMeterProvider"):
        return None
    key = id(provider)
    if key not in _metrics_cache:
        _metrics_cache[key] = _Metrics(provider.get_meter("polyface"))
    return _metrics_cache[key]


class Call:
    """What one GenAI call reports once it knows: the response and usage."""

    __slots__ = ("attributes", "span")

    def __init__(self, span: Any, attributes: dict[str, Any]) -> None:
        self.span = span
        self.attributes = attributes

    def finish(
        self,
        *,
        response_model: str | None = None,
        response_id: str | None = None,
        finish_reason: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cost: float | None = None,
    ) -> None:
        attrs = self.attributes
        if response_model:
            attrs["gen_ai.response.model"] = response_model
        if response_id:
            attrs["gen_ai.response.id"] = response_id
        if finish_reason:
            attrs["gen_ai.response.finish_reasons"] = (finish_reason,)
        if input_tokens is not None:
            attrs["gen_ai.usage.input_tokens"] = input_tokens
        if output_tokens is not None:
            attrs["gen_ai.usage.output_tokens"] = output_tokens
        if cost is not None:
            attrs["polyface.cost_usd"] = cost


class Telemetry:
    """Per-provider telemetry. ``call()`` wraps one GenAI operation."""

    def __init__(
        self, provider: str, server_address: str | None = None, server_port: int | None = None
    ) -> None:
        self.provider = provider
        self.server_address = server_address
        self.server_port = server_port
        self.log = get_logger(f"polyface.providers.{provider}")

    @contextmanager
    def call(self, operation: str, model: str, *, current: bool = True, **request: Any) -> Iterator[Call]:
        """Wrap one GenAI operation in a span and metrics. ``current=False`` for streams: the span is not
        made the current context, which would leak into the caller's code between yielded pieces."""
        tracer = _otel_tracer()
        metrics = _otel_metrics()
        if tracer is None and metrics is None:
            yield Call(None, {})
            return
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.provider.name": self.provider,
            "gen_ai.system": self.provider,
            "gen_ai.request.model": model,
        }
        for key, value in request.items():
            if value is not None:
                attrs[f"gen_ai.request.{key}"] = value
        if self.server_address:
            attrs["server.address"] = self.server_address
        if self.server_port:
            attrs["server.port"] = self.server_port
        start = time.perf_counter()
        name = f"{operation} {model}"
        span_cm = None
        if tracer is None:
            span = None
        elif current:
            span_cm = tracer.start_as_current_span(name, kind=_client_kind(), end_on_exit=False)
            span = span_cm.__enter__()
        else:
            span = tracer.start_span(name, kind=_client_kind())
        call = Call(span, attrs)
        error: BaseException | None = None
        try:
            yield call
        except GeneratorExit:
            attrs["polyface.stream.closed_early"] = True
            raise
        except BaseException as exc:
            error = exc
            attrs["error.type"] = type(exc).__name__
            raise
        finally:
            if span is not None:
                span.set_attributes(attrs)
                if error is not None:
                    span.record_exception(error)
                    from opentelemetry.trace import Status, StatusCode

                    span.set_status(Status(StatusCode.ERROR, redact(str(error))))
                span.end()
                if span_cm is not None:
                    span_cm.__exit__(None, None, None)
            if metrics is not None:
                self._record(metrics, attrs, time.perf_counter() - start)

    @staticmethod
    def _record(metrics: _Metrics, attrs: dict[str, Any], duration: float) -> None:
        base = {
            k: v
            for k, v in attrs.items()
            if k
            in (
                "gen_ai.operation.name",
                "gen_ai.provider.name",
                "gen_ai.request.model",
                "gen_ai.response.model",
                "server.address",
                "error.type",
            )
        }
        metrics.duration.record(duration, base)
        if "gen_ai.usage.input_tokens" in attrs:
            metrics.tokens.record(attrs["gen_ai.usage.input_tokens"], {**base, "gen_ai.token.type": "input"})
        if "gen_ai.usage.output_tokens" in attrs:
            metrics.tokens.record(
                attrs["gen_ai.usage.output_tokens"], {**base, "gen_ai.token.type": "output"}
            )
        if "polyface.cost_usd" in attrs:
            metrics.cost.add(attrs["polyface.cost_usd"], base)


def _client_kind() -> Any:
    from opentelemetry.trace import SpanKind

    return SpanKind.CLIENT
