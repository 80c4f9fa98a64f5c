"""The fake Anthropic server class (Messages API). Routes live in the area modules beside this file."""

from __future__ import annotations

from typing import Any, ClassVar

from polyface.testing.fake_together.core import FakeServer, RecordedRequest


def anthropic_models() -> list[dict[str, Any]]:
    """A fresh copy of the fake's catalog: Anthropic ``ModelInfo`` objects (Anthropic lists no prices)."""

    def support(value: bool) -> dict[str, bool]:
        return {"supported": value}

    def model(
        model_id: str, display_name: str, created: str, max_input: int, max_output: int
    ) -> dict[str, Any]:
        return {
            "type": "model",
            "id": model_id,
            "display_name": display_name,
            "created_at": created,
            "max_input_tokens": max_input,
            "max_tokens": max_output,
            "capabilities": {
                "batch": support(True),
                "citations": support(True),
                "code_execution": support(True),
                "context_management": {
                    "clear_thinking_20251015": None,
                    "clear_tool_uses_20250919": support(True),
                    "compact_20260112": None,
                    "supported": True,
                },
                "effort": {
                    "high": support(True),
                    "low": support(True),
                    "max": support(False),
                    "medium": support(True),
                    "supported": True,
                    "xhigh": None,
                },
                "image_input": support(True),
                "pdf_input": support(True),
                "structured_outputs": support(True),
                "thinking": {
                    "supported": True,
                    "types": {"adaptive": support(False), "enabled": support(True)},
                },
            },
        }

    return [
        model("claude-opus-4-6", "Claude Opus 4.6", "2026-02-05T00:00:00Z", 1_000_000, 128_000),
        model("claude-sonnet-4-6", "Claude Sonnet 4.6", "2026-02-17T00:00:00Z", 1_000_000, 64_000),
        model("claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-15T00:00:00Z", 200_000, 64_000),
        model("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z", 200_000, 64_000),
        model("claude-opus-4-1-20250805", "Claude Opus 4.1", "2025-08-05T00:00:00Z", 200_000, 32_000),
        model("claude-3-haiku-20240307", "Claude Haiku 3", "2024-03-07T00:00:00Z", 200_000, 4_096),
    ]


class FakeAnthropic(FakeServer):
    """A fake Anthropic API server on 127.0.0.1. ``base_url`` is the host root (Anthropic's paths start
    with ``/v1``); the key goes in ``x-api-key``; errors are ``{"type": "error", "error": {...}}``.

    Beyond the shared fault injection: :meth:`fail_stream` makes a stream send an ``error`` event mid-way;
    list pages (models, batches) hold at most :attr:`page_limit` items (so pagination is exercised);
    a batch ends after :attr:`batch_polls` reads of it.
    """

    vendor = "Anthropic"
    default_api_key = "sk-ant-fake-0123456789abcdef"
    page_limit: ClassVar[int] = 4
    """The fake's largest page of a list (models, batches), whatever ``limit`` asks (the real API allows up
    to 1000): small, so that clients' pagination is exercised."""
    batch_polls: ClassVar[int] = 1
    """A batch is ``in_progress`` for this many ``GET``s of it, then ``ended``."""

    @classmethod
    def default_catalog(cls) -> list[dict[str, Any]]:
        return anthropic_models()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _authorized(self, req: RecordedRequest) -> bool:
        return req.headers.get("x-api-key", "") == self.api_key

    def error_body(self, status: int, message: str | None = None, code: str | None = None) -> dict[str, Any]:
        kinds = {
            400: "invalid_request_error",
            401: "authentication_error",
            403: "permission_error",
            404: "not_found_error",
            413: "request_too_large",
            429: "rate_limit_error",
            500: "api_error",
            529: "overloaded_error",
        }
        kind = code or kinds.get(status, "api_error")
        error = {"type": kind, "message": message or kind.replace("_", " ")}
        return {"type": "error", "error": error, "request_id": None}

    def fail_stream(
        self,
        error_type: str = "overloaded_error",
        message: str = "Overloaded",
        after_events: int = 3,
        times: int = 1,
    ) -> None:
        """The next ``times`` streams send ``after_events`` events, then an ``error`` event of ``error_type``
        (and end, as Anthropic's do)."""
        if times < 1 or after_events < 0:
            raise ValueError("times must be >= 1 and after_events >= 0")
        plans = self.store.setdefault("stream_errors", [])
        plans.append({"type": error_type, "message": message, "after": after_events, "remaining": times})

    def take_stream_error(self) -> dict[str, Any] | None:
        """The stream-error plan for the stream starting now, if any (used by the messages route)."""
        plans = self.store.get("stream_errors") or []
        if not plans:
            return None
        plan: dict[str, Any] = plans[0]
        plan["remaining"] -= 1
        if plan["remaining"] <= 0:
            plans.pop(0)
        return plan
