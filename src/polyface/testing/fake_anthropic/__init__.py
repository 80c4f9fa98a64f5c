"""A local fake of the Anthropic REST API (on the shared :class:`FakeServer`), for tests and demos."""

from __future__ import annotations

from polyface.testing.fake_anthropic.core import FakeAnthropic

__all__ = ["FakeAnthropic"]
