"""The fake OpenAI server class. Its routes live in the area modules beside this file."""

from __future__ import annotations

from typing import Any

from polyface.testing.fake_together.core import FakeServer


class FakeOpenAI(FakeServer):
    """A fake OpenAI API server on 127.0.0.1 (``base_url`` ends with ``/v1`` as OpenAI's does)."""

    vendor = "OpenAI"
    default_api_key = "sk-fake-openai-0123456789abcdef"

    @classmethod
    def default_catalog(cls) -> list[dict[str, Any]]:
        from polyface.testing.fake_openai.chat import default_models

        return default_models()
