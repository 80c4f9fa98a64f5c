"""Fake OpenAI routes: fine_tuning, registered with ``@route(..., server=FakeOpenAI)``."""

from __future__ import annotations
