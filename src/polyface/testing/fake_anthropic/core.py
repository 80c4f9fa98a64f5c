"""The fake Anthropic server class (Messages API). Routes live in the area modules beside this file."""

from __future__ import annotations

from typing import Any

from polyface.testing.fake_together.core import FakeServer, RecordedRequest


class FakeAnthropic(FakeServer):
    """A fake Anthropic API server on 127.0.0.1. ``base_url`` is the host root (Anthropic's paths start
    with ``/v1``); the key goes in ``x-api-key``; errors are ``{"type": "error", "error": {...}}``."""

    vendor = "Anthropic"
    default_api_key = "sk-ant-fake-0123456789abcdef"

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
        return {"type": "error", "error": {"type": kind, "message": message or kind.replace("_", " ")}}
